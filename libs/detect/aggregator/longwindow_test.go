package aggregator

import (
	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"runtime"
	"testing"
	"time"
)

func TestLongWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC).UnixNano()
	f := func(name string, perHour int, cartEvery time.Duration, hours float64, wantFloor float64, within time.Duration) {
		t.Helper()
		s := newSiteMode(nil, nil)
		if s != nil {
			t.Fatal("site mode without a config")
		}
		s = &siteMode{long: map[addrKey]*longState{}, held: map[addrKey]held{}}
		var k addrKey
		gap := int64(time.Hour) / int64(perHour)
		var flaggedAt int64
		id := uint32(10001)
		lastCart := t0
		for at := t0; at < t0+int64(hours*float64(time.Hour)); at += gap {
			cart := cartEvery > 0 && at-lastCart >= int64(cartEvery)
			if cart {
				lastCart = at
			}
			id = id*1103515245 + 12345 // products in no order
			floor, reason := s.observeLong(k, at, cart, id%6000, !cart, true)
			if floor > 0 && flaggedAt == 0 {
				flaggedAt = at
				if reason == "" {
					t.Errorf("%s: a floor without a reason", name)
				}
			}
		}
		switch {
		case wantFloor == 0 && flaggedAt != 0:
			t.Errorf("%s: flagged after %s, want never", name, time.Duration(flaggedAt-t0))
		case wantFloor > 0 && flaggedAt == 0:
			t.Errorf("%s: never flagged", name)
		case wantFloor > 0 && time.Duration(flaggedAt-t0) > within:
			t.Errorf("%s: flagged after %s, want within %s", name, time.Duration(flaggedAt-t0), within)
		}
	}
	f("all-day scraper, 450 products/h", 450, 0, 3, attackChallenge, 2*time.Hour)
	f("slow all-day scraper, 150 products/h", 150, 0, 3, attackChallenge, 2*time.Hour)
	f("person comparing for an hour, 60 products/h", 60, 0, 1.5, 0, 0)
	f("shop assistant with carts, 200 products/h", 200, 20*time.Minute, 4, 0, 0)
}

// BenchmarkLongWindowMemory reports the bytes the long windows hold per
// address that has them, at a million such addresses (the budget is 1 KiB
// an address with the rest of its state; only addresses that viewed
// longStartPages distinct pages in ten minutes have long windows).
func BenchmarkLongWindowMemory(b *testing.B) {
	const n = 1_000_000
	b.ReportAllocs()
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := &siteMode{long: map[addrKey]*longState{}, held: map[addrKey]held{}}
		t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC).UnixNano()
		var k addrKey
		for i := range n {
			k[12], k[13], k[14], k[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
			s.observeLong(k, t0+int64(i), false, uint32(i), true, true)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/ip")
		runtime.KeepAlive(s)
	}
}

// BenchmarkEngineAttackMode is BenchmarkEngine without ("off") and with
// ("on", and "site": counting for the site-wide fold) attack mode (site-wide baselines, fingerprints, shared-fingerprint
// crawls, long windows), in the same run: the target is on >= 0.7x
// off in events/cpu-s.
func BenchmarkEngineAttackMode(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchEngine(b, NewEngine(testConfig())) })
	b.Run("on", func(b *testing.B) { benchEngine(b, NewEngine(testConfig(), WithAttackMode(attacks.DefaultConfig()))) })
	// Site-wide (the service's default): the engine counts, the fold
	// judges (its per-minute folding is not per event and is left out).
	b.Run("site", func(b *testing.B) {
		cfg := attacks.DefaultConfig()
		benchEngine(b, NewEngine(testConfig(), WithAttackMode(cfg), WithSiteFold(attacks.NewFold(cfg))))
	})
}
