package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is the retry curve of every retry loop in Bulwark (cfsync, chsink,
// fwsync, verdictlog): the wait before retry n (n = 0 after the first
// failure) is drawn from [c/2, c], where c = Initial·2ⁿ capped at Max
// ("equal jitter": half of it fixed, so a retry is never immediate, half
// random, so that replicas failing together do not retry in step).
//
// A small type rather than a library such as cenkalti/backoff: the curve is
// three lines, the loops need the wait for a given attempt (cfsync raises
// it to a server's Retry-After) and a wait that ends with their context,
// which Sleep already is; a module in every service's go.mod for that would
// not pay for itself.
type Policy struct {
	// Initial is the ceiling of the first wait; it must be positive.
	Initial time.Duration
	// Max caps every wait (0: Initial).
	Max time.Duration
}

// Delay returns the wait before retry n (0-based).
func (p Policy) Delay(n int) time.Duration {
	c := p.ceiling(n)
	return c/2 + rand.N(c-c/2+1)
}

// ceiling is Initial·2ⁿ capped at Max, without overflowing.
func (p Policy) ceiling(n int) time.Duration {
	c := max(p.Initial, time.Nanosecond)
	maxWait := c
	if p.Max > 0 {
		maxWait = p.Max
	}
	for range max(n, 0) {
		if c >= maxWait/2 {
			return maxWait
		}
		c *= 2
	}
	return min(c, maxWait)
}

// Start returns the state of one retry loop under p.
func (p Policy) Start() *Backoff { return &Backoff{p: p} }

// Backoff counts the failures of one retry loop. It is not safe for
// concurrent use: each loop has its own.
type Backoff struct {
	p Policy
	n int
}

// Next returns the wait after one more failure.
func (b *Backoff) Next() time.Duration {
	d := b.p.Delay(b.n)
	b.n++
	return d
}

// Failures returns the failures since the start or the last Reset.
func (b *Backoff) Failures() int { return b.n }

// Reset starts the curve again after a success.
func (b *Backoff) Reset() { b.n = 0 }

// Wait sleeps Next(), or until ctx is done (then it returns ctx's error).
func (b *Backoff) Wait(ctx context.Context) error { return Sleep(ctx, b.Next()) }
