//go:build unix

package model

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used: the
// benchmarks report cost per CPU time, which holds on a shared machine
// where wall time does not (as in the aggregator's benchmarks).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
