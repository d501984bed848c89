package geoip

import "syscall"

// threadCPU is the CPU time the calling OS thread has used, in ns. On
// this shared machine a benchmark's wall-clock ns/op includes the time
// its thread waits for a core; its CPU time does not.
func threadCPU() (int64, bool) {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD, absent from package syscall
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
