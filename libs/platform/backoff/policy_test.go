package backoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/backoff"
)

func TestPolicyDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		p      backoff.Policy
		n      int
		lo, hi time.Duration
	}{
		{"first", backoff.Policy{Initial: 100 * ms, Max: 5 * time.Second}, 0, 50 * ms, 100 * ms},
		{"doubles", backoff.Policy{Initial: 100 * ms, Max: 5 * time.Second}, 3, 400 * ms, 800 * ms},
		{"capped", backoff.Policy{Initial: 100 * ms, Max: 5 * time.Second}, 10, 2500 * ms, 5 * time.Second},
		{"no overflow", backoff.Policy{Initial: time.Second, Max: time.Hour}, 1 << 20, 30 * time.Minute, time.Hour},
		{"max below initial", backoff.Policy{Initial: 200 * ms, Max: 100 * ms}, 0, 50 * ms, 100 * ms},
		{"no max", backoff.Policy{Initial: 200 * ms}, 5, 100 * ms, 200 * ms},
		{"negative attempt", backoff.Policy{Initial: 200 * ms, Max: time.Second}, -1, 100 * ms, 200 * ms},
		{"zero policy", backoff.Policy{}, 3, 0, time.Nanosecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 200 {
				if d := tc.p.Delay(tc.n); d < tc.lo || d > tc.hi {
					t.Fatalf("Delay(%d) = %v, want in [%v, %v]", tc.n, d, tc.lo, tc.hi)
				}
			}
		})
	}
}

func TestPolicyJitters(t *testing.T) {
	p := backoff.Policy{Initial: time.Second, Max: time.Minute}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[p.Delay(2)] = true
	}
	if len(seen) < 2 {
		t.Fatal("50 delays were all equal: no jitter")
	}
}

func TestBackoffCountsAndResets(t *testing.T) {
	b := backoff.Policy{Initial: time.Second, Max: time.Minute}.Start()
	for want := 1; want <= 3; want++ {
		if d := b.Next(); d < time.Second<<(want-1)/2 || d > time.Second<<(want-1) {
			t.Fatalf("wait %d: %v", want, d)
		}
		if b.Failures() != want {
			t.Fatalf("failures %d, want %d", b.Failures(), want)
		}
	}
	b.Reset()
	if d := b.Next(); d > time.Second {
		t.Fatalf("after Reset: %v", d)
	}
}

func TestBackoffWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := backoff.Policy{Initial: time.Hour}.Start()
	if err := b.Wait(ctx); err != context.Canceled {
		t.Fatalf("Wait on a done context = %v", err)
	}
}
