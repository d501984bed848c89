package testkit

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ThreadCPUPerOp measures the CPU time of the benchmark's loop on its own
// thread and reports it as "cpu-ns/op" when the returned stop is called
// after the loop:
//
//	stop := testkit.ThreadCPUPerOp(b)
//	for b.Loop() { ... }
//	stop()
//
// On a machine shared with other work, ns/op also counts the time the loop
// waited for a core; cpu-ns/op does not, so two benchmarks of a few hundred
// nanoseconds compare within a few percent where their ns/op swing by 2x.
// It leaves out what other goroutines spend (GC workers, a server's
// background loops): use it for loops that do their work on the calling
// goroutine.
func ThreadCPUPerOp(b *testing.B) (stop func()) {
	b.Helper()
	runtime.LockOSThread()
	start := threadCPU(b)
	return func() {
		used := threadCPU(b) - start
		runtime.UnlockOSThread()
		b.ReportMetric(float64(used)/float64(max(b.N, 1)), "cpu-ns/op")
	}
}

func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatalf("thread CPU time: %v", err)
	}
	return time.Duration(ts.Nano())
}
