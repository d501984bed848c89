//go:build unix

package aggregator

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used. Benchmarks
// divide work by it, not by wall time, so their figures per core hold on a
// machine shared with other work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
