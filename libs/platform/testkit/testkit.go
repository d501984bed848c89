// Package testkit holds the helpers Bulwark's tests share: waiting for a
// condition instead of sleeping, and reading a metric from a registry. Only
// test code imports it.
package testkit

import (
	"testing"
	"time"
)

// The poll interval starts short, so a condition that is almost true costs
// almost nothing, and grows, so a slow one does not burn the shared CPU.
const (
	firstPoll = time.Millisecond
	maxPoll   = 50 * time.Millisecond
)

// Eventually polls cond until it returns true, and fails tb (naming what was
// awaited and how long it waited) if that has not happened within the given
// time. It must be called from the test's goroutine, like tb.Fatal.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !wait(within, cond) {
		tb.Fatalf("waited %v for %s: it did not happen", within, what)
	}
}

// EventuallyEvery is Eventually polling at a fixed interval: for latency
// benchmarks, where the interval is the resolution of what they measure and
// a growing one would add to it.
func EventuallyEvery(tb testing.TB, within, every time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !waitEvery(within, every, every, cond) {
		tb.Fatalf("waited %v for %s: it did not happen", within, what)
	}
}

// wait reports whether cond became true within the given time; cond is always
// asked at least once and once more at the deadline, so a slow scheduler
// cannot fail a condition that was true on time.
func wait(within time.Duration, cond func() bool) bool {
	return waitEvery(within, firstPoll, maxPoll, cond)
}

// waitEvery polls cond, first after poll and then at intervals doubling up
// to maxPoll.
func waitEvery(within, poll, maxPoll time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(poll, left)) // the poll interval, not a wait for an event
		poll = min(2*poll, maxPoll)
	}
}
