package edgesync

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bulwarkhq/bulwark/libs/platform/backoff"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
)

// The tests run in a synctest bubble: time is virtual, time.Sleep moves it
// forward at once, and synctest.Wait returns when every goroutine of the
// bubble is blocked, so "no sync happened" is a fact, not a guess.

const (
	syncEvery   = 100 * time.Millisecond
	resyncEvery = time.Hour
)

// harness runs one loop over a fake target.
type harness struct {
	t      *testing.T
	set    *blockset.Set
	target *fakeTarget
	s      *Syncer
	t0     time.Time
	cancel context.CancelFunc
	done   chan error // the loop's result
}

func testConfig() Config {
	return Config{
		Name:           "test",
		Actions:        []eventpb.Action{eventpb.Action_BLOCK},
		SyncInterval:   syncEvery,
		ResyncInterval: resyncEvery,
		Retry:          backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second},
		Backoffs:       prometheus.NewCounter(prometheus.CounterOpts{Name: "test_backoffs_total"}),
	}
}

// start runs the loop; call it inside a bubble. It returns once the first
// sync was attempted.
func start(t *testing.T, cfg Config, target *fakeTarget) *harness {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	set := blockset.New(cfg.Name, cfg.Actions, nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	h := &harness{t: t, set: set, target: target, s: newSyncer(cfg, set, target, slog.New(slog.DiscardHandler)),
		t0: time.Now(), cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- h.s.loop(ctx) }()
	t.Cleanup(func() { cancel(); <-h.done })
	synctest.Wait()
	return h
}

func (h *harness) block(subject string, ttl time.Duration) {
	v := &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 90}
	if ttl > 0 {
		v.ExpiresAtUnixNano = time.Now().Add(ttl).UnixNano()
	}
	h.set.Apply(subject, v)
}

// at is a point of virtual time as an offset from the loop's start.
func (h *harness) at(i int) time.Duration {
	h.t.Helper()
	c := h.target.calls()
	if i >= len(c) {
		h.t.Fatalf("apply %d: only %d happened", i, len(c))
	}
	return c[i].at.Sub(h.t0)
}

func (h *harness) wantCalls(n int) []applied {
	h.t.Helper()
	c := h.target.calls()
	if len(c) != n {
		h.t.Fatalf("%d applies, want %d: %+v", len(c), n, c)
	}
	return c
}

func synced(s *Syncer) bool {
	select {
	case <-s.Synced():
		return true
	default:
		return false
	}
}

func TestFirstSyncIsWholeAndMakesReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, testConfig(), &fakeTarget{})
		c := h.wantCalls(1)
		if !c[0].whole || h.at(0) != 0 || len(c[0].subjects) != 0 {
			t.Fatalf("first apply %+v, want an immediate whole sync of nothing", c[0])
		}
		if !synced(h.s) {
			t.Fatal("Synced not closed after a successful first sync")
		}
	})
}

func TestChangesBatchPerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, testConfig(), &fakeTarget{})
		for _, ip := range []string{"ip:203.0.113.1", "ip:203.0.113.2", "ip:203.0.113.3"} {
			time.Sleep(10 * time.Millisecond)
			h.block(ip, 0)
		}
		synctest.Wait()
		h.wantCalls(1) // the loop waits out the interval since the last sync

		time.Sleep(syncEvery)
		synctest.Wait()
		c := h.wantCalls(2)
		if h.at(1) != syncEvery || c[1].whole || len(c[1].subjects) != 3 {
			t.Fatalf("second apply at %v: %+v, want all three changes at %v in one incremental sync", h.at(1), c[1], syncEvery)
		}

		// A change long after the last sync is applied at once.
		time.Sleep(time.Minute)
		h.block("ip:203.0.113.4", 0)
		synctest.Wait()
		h.wantCalls(3)
		if now := time.Since(h.t0); h.at(2) != now {
			t.Fatalf("third apply at %v, want at once (%v)", h.at(2), now)
		}

		// Quiet: nothing until the resync is due.
		time.Sleep(resyncEvery / 2)
		synctest.Wait()
		h.wantCalls(3)
	})
}

func TestPeriodicResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.ResyncInterval = time.Second
		h := start(t, cfg, &fakeTarget{})
		time.Sleep(1500 * time.Millisecond)
		h.block("ip:198.51.100.7", 0)
		time.Sleep(2*time.Second + 10*time.Millisecond)
		synctest.Wait()
		c := h.wantCalls(5)
		want := []struct {
			at    time.Duration
			whole bool
		}{{0, true}, {time.Second, true}, {1500 * time.Millisecond, false}, {2 * time.Second, true}, {3 * time.Second, true}}
		for i, w := range want {
			if h.at(i) != w.at || c[i].whole != w.whole {
				t.Errorf("apply %d at %v whole=%v, want at %v whole=%v", i, h.at(i), c[i].whole, w.at, w.whole)
			}
		}
	})
}

func TestExpiryWakesTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, testConfig(), &fakeTarget{})
		time.Sleep(time.Second)
		h.block("ip:192.0.2.9", 5*time.Second)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		c := h.wantCalls(3)
		if h.at(2) != 6*time.Second || len(c[2].subjects) != 0 {
			t.Fatalf("apply after expiry at %v with %v, want at 6s with nothing", h.at(2), c[2].subjects)
		}
		if !slices.Equal(c[1].subjects, []string{"ip:192.0.2.9"}) {
			t.Fatalf("apply before expiry: %v", c[1].subjects)
		}
	})
}

// retryLater is an error that carries the wait the edge asked for.
type retryLater time.Duration

func (r retryLater) Error() string { return "rate limited" }

func TestBackoffOnErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errDown := errors.New("edge down")
		cfg := testConfig()
		cfg.RetryAfter = func(err error) time.Duration {
			var r retryLater
			if errors.As(err, &r) {
				return time.Duration(r)
			}
			return 0
		}
		target := &fakeTarget{}
		target.failNext(errDown, errDown, errDown)
		h := start(t, cfg, target)
		if synced(h.s) {
			t.Fatal("Synced closed after a failed sync")
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		c := h.wantCalls(4)
		for i := 1; i < 4; i++ {
			// Retry n waits within [c/2, c] of c = 100ms·2ⁿ.
			ceil := cfg.Retry.Initial << (i - 1)
			if gap := h.at(i) - h.at(i-1); gap < ceil/2 || gap > ceil {
				t.Errorf("retry %d after %v, want within [%v, %v]", i, gap, ceil/2, ceil)
			}
			if !c[i].whole {
				t.Errorf("retry %d is not whole: a failed resync must be retried whole", i)
			}
		}
		if !synced(h.s) {
			t.Fatal("Synced not closed after the retry succeeded")
		}
		if got := testutil.ToFloat64(cfg.Backoffs); got != 3 {
			t.Fatalf("backoffs counted %v, want 3", got)
		}

		// After a success the curve starts again, raised to what the edge
		// asked for.
		target.failNext(retryLater(5 * time.Second))
		h.block("ip:203.0.113.50", 0)
		synctest.Wait()
		time.Sleep(time.Minute)
		synctest.Wait()
		h.wantCalls(6)
		if gap := h.at(5) - h.at(4); gap != 5*time.Second {
			t.Fatalf("retry after a Retry-After of 5s came after %v", gap)
		}
		if got := testutil.ToFloat64(cfg.Backoffs); got != 4 {
			t.Fatalf("backoffs counted %v, want 4", got)
		}
	})
}

func TestPermanentErrorStopsTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errDenied := errors.New("operation not permitted")
		target := &fakeTarget{}
		target.failNext(Permanent(errDenied))
		h := start(t, testConfig(), target)
		select {
		case err := <-h.done:
			if !errors.Is(err, errDenied) {
				t.Fatalf("loop returned %v, want %v", err, errDenied)
			}
			h.done <- err // for the cleanup
		default:
			t.Fatal("loop still running after a permanent error")
		}
		if synced(h.s) {
			t.Fatal("Synced closed though no sync succeeded")
		}
	})
}

func TestStopsOnCancel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reach func(h *harness)
	}{
		{"idle", func(h *harness) {}},
		{"batching", func(h *harness) {
			h.block("ip:203.0.113.1", 0) // the loop now waits out the interval
			synctest.Wait()
		}},
		{"backing off", func(h *harness) {
			h.target.failNext(errors.New("edge down"))
			time.Sleep(syncEvery)
			h.block("ip:203.0.113.1", 0) // synced at once, fails, waits
			synctest.Wait()
			if got := testutil.ToFloat64(h.s.cfg.Backoffs); got != 1 {
				h.t.Fatalf("backoffs %v, want the loop waiting after one failure", got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig()
				cfg.Retry = backoff.Policy{Initial: time.Hour}
				h := start(t, cfg, &fakeTarget{})
				tc.reach(h)
				n := len(h.target.calls())
				cancelled := time.Now()
				h.cancel()
				synctest.Wait()
				select {
				case err := <-h.done:
					if err != nil {
						t.Fatalf("loop returned %v on cancel, want nil", err)
					}
					h.done <- err
				default:
					t.Fatal("loop still running after cancel")
				}
				if d := time.Since(cancelled); d != 0 {
					t.Fatalf("loop took %v of virtual time to stop", d)
				}
				h.wantCalls(n)
			})
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		ok   bool
	}{
		{"valid", func(*Config) {}, true},
		{"no name", func(c *Config) { c.Name = "" }, false},
		{"no actions", func(c *Config) { c.Actions = nil }, false},
		{"no sync interval", func(c *Config) { c.SyncInterval = 0 }, false},
		{"no resync interval", func(c *Config) { c.ResyncInterval = -time.Second }, false},
		{"no retry", func(c *Config) { c.Retry = backoff.Policy{} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.mut(&cfg)
			if err := cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
