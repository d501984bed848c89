package attacks_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC).UnixNano()

// traffic feeds d one simulated hour of normal login traffic per hour of
// span, plus extra(minute) hits each minute, and returns every record.
func traffic(d *attacks.Detector, minutes int, extra func(m int, rng *rand.Rand) []attacks.Hit) []*eventpb.Attack {
	rng := rand.New(rand.NewPCG(1, 2))
	var out []*eventpb.Attack
	for m := range minutes {
		base := t0 + int64(m)*int64(time.Minute)
		var hits []attacks.Hit
		// Normal: about 20 logins a minute, 10 % failing, 40 browsers.
		for range 15 + rng.IntN(10) {
			hits = append(hits, attacks.Hit{Class: attacks.ClassLogin, Failed: rng.Float64() < 0.1, NewClient: rng.Float64() < 0.3, FP: uint64(1 + rng.IntN(40))})
		}
		for range 100 + rng.IntN(20) {
			hits = append(hits, attacks.Hit{Class: attacks.ClassPages, NewClient: rng.Float64() < 0.3, FP: uint64(1 + rng.IntN(40))})
		}
		if extra != nil {
			hits = append(hits, extra(m, rng)...)
		}
		for i, h := range hits {
			h.T = base + int64(i)*int64(time.Minute)/int64(len(hits)+1)
			h.FirstFailure = h.Failed // every hit here is a client of its own
			if d.Advance(h.T) {
				out = append(out, d.Take()...)
			}
			d.Observe(h)
		}
	}
	d.Advance(t0 + int64(minutes+1)*int64(time.Minute))
	return append(out, d.Take()...)
}

func TestDetector(t *testing.T) {
	const attackFP = 999
	type want struct {
		id        string // the first record's id; "" for no record at all
		enforcing bool
		fp        bool // the attack's fingerprint is attackFP
		ended     bool
	}
	f := func(name string, minutes int, extra func(m int, rng *rand.Rand) []attacks.Hit, w want) {
		t.Helper()
		d := attacks.New(attacks.DefaultConfig())
		recs := traffic(d, minutes, extra)
		if w.id == "" {
			if len(recs) != 0 {
				t.Errorf("%s: %d records, want none; first %v", name, len(recs), recs[0])
			}
			return
		}
		if len(recs) == 0 {
			t.Fatalf("%s: no attack recorded, want %s", name, w.id)
		}
		first := recs[0]
		if first.Id != w.id {
			t.Errorf("%s: first attack %s (%s), want %s", name, first.Id, first.Reason, w.id)
		}
		var last *eventpb.Attack
		for _, r := range recs {
			if r.Id == first.Id {
				last = r
			}
		}
		enforcing := false
		for _, r := range recs {
			if r.Id == first.Id && r.Enforcing {
				enforcing = true
				if w.fp && (len(r.Fingerprints) == 0 || r.Fingerprints[0] != attacks.FPString(attackFP)) {
					t.Errorf("%s: fingerprints %v, want %s first", name, r.Fingerprints, attacks.FPString(attackFP))
				}
			}
		}
		if enforcing != w.enforcing {
			t.Errorf("%s: enforcing %v, want %v (%s)", name, enforcing, w.enforcing, first.Reason)
		}
		if ended := last.EndedUnixNano != 0; ended != w.ended {
			t.Errorf("%s: ended %v, want %v", name, ended, w.ended)
		}
		if first.Reason == "" || first.Strength <= 0 {
			t.Errorf("%s: record without a reason or strength: %v", name, first)
		}
	}
	quiet := func(int, *rand.Rand) []attacks.Hit { return nil }
	f("normal traffic", 180, quiet, want{})
	// Residential stuffing from minute 60 to 100: ~40 extra failing logins a
	// minute, one tool's fingerprint, every client new.
	stuffing := func(m int, rng *rand.Rand) []attacks.Hit {
		if m < 60 || m >= 100 {
			return nil
		}
		var hs []attacks.Hit
		for range 40 {
			hs = append(hs, attacks.Hit{Class: attacks.ClassLogin, Failed: rng.Float64() < 0.97, NewClient: true, FP: attackFP})
		}
		return hs
	}
	f("stuffing", 130, stuffing, want{id: "login-failures-2026-12-03T10:00Z", enforcing: true, fp: true, ended: true})
	f("stuffing before warm-up", 25, func(m int, rng *rand.Rand) []attacks.Hit { return stuffing(m+60, rng) }, want{})
	// A newsletter: 10x the logins for 10 minutes, failing as usual.
	f("flash sale", 100, func(m int, rng *rand.Rand) []attacks.Hit {
		if m < 60 || m >= 70 {
			return nil
		}
		var hs []attacks.Hit
		for range 200 {
			hs = append(hs, attacks.Hit{Class: attacks.ClassLogin, Failed: rng.Float64() < 0.1, NewClient: true, FP: uint64(1 + rng.IntN(40))})
		}
		return hs
	}, want{id: "login-surge-2026-12-03T10:00Z", ended: true})
	// An SSO outage: many failing logins, from every kind of browser.
	f("sso outage", 110, func(m int, rng *rand.Rand) []attacks.Hit {
		if m < 60 || m >= 90 {
			return nil
		}
		var hs []attacks.Hit
		for range 30 {
			hs = append(hs, attacks.Hit{Class: attacks.ClassLogin, Failed: true, FP: uint64(1 + rng.IntN(40))})
		}
		return hs
	}, want{id: "login-failures-2026-12-03T10:00Z", ended: true})
}

func TestMatches(t *testing.T) {
	d := attacks.New(attacks.DefaultConfig())
	traffic(d, 70, func(m int, rng *rand.Rand) []attacks.Hit {
		if m < 60 {
			return nil
		}
		var hs []attacks.Hit
		for range 40 {
			hs = append(hs, attacks.Hit{Class: attacks.ClassLogin, Failed: true, NewClient: true, FP: 999})
		}
		return hs
	})
	a, ok := d.Matches(attacks.ClassLogin, 999)
	if !ok || !strings.HasPrefix(a.GetId(), "login-failures-") {
		t.Fatalf("fingerprint 999 during the attack: %v %v, want a match", a, ok)
	}
	if a, ok := d.Matches(attacks.ClassLogin, 7); ok || a == nil {
		t.Errorf("another fingerprint: %v %v, want the attack without a match", a, ok)
	}
	if a, ok := d.Matches(attacks.ClassPages, 999); ok || a != nil {
		t.Errorf("another class: %v %v, want nothing", a, ok)
	}
}

func TestClassify(t *testing.T) {
	f := func(path string, want attacks.Class) {
		t.Helper()
		if got := attacks.Classify(path, 0); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	f("/register", attacks.ClassSignup)
	f("/search?q=x", attacks.ClassSearch)
	f("/api/products", attacks.ClassAPI)
	f("/product/1", attacks.ClassPages)
	if c, ok := attacks.ParseClass("login"); !ok || c != attacks.ClassLogin {
		t.Errorf("ParseClass(login) = %v %v", c, ok)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := attacks.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := attacks.DefaultConfig()
	c.Window = 90 * time.Second
	if err := c.Validate(); err == nil {
		t.Error("a window of 90s was accepted")
	}
}

// TestGaps: a quiet night or a replay of separate days jumps the clock; an
// attack active before the gap ends where the gap began, and nothing loops
// over the empty minutes one by one.
func TestGaps(t *testing.T) {
	for _, gap := range []time.Duration{3 * time.Hour, 3 * 24 * time.Hour, 400 * 24 * time.Hour} {
		d := attacks.New(attacks.DefaultConfig())
		traffic(d, 70, func(m int, rng *rand.Rand) []attacks.Hit {
			if m < 60 {
				return nil
			}
			var hs []attacks.Hit
			for range 40 {
				hs = append(hs, attacks.Hit{Class: attacks.ClassLogin, Failed: true, NewClient: true, FP: 999})
			}
			return hs
		})
		if len(d.Active()) == 0 {
			t.Fatalf("gap %s: no attack before the gap", gap)
		}
		later := t0 + int64(70*time.Minute+gap)
		d.Advance(later)
		recs := d.Take()
		if len(d.Active()) != 0 || len(recs) == 0 || recs[len(recs)-1].EndedUnixNano == 0 {
			t.Errorf("gap %s: attack still active after the gap (records %v)", gap, recs)
		}
		d.Observe(attacks.Hit{T: later, Class: attacks.ClassLogin})
		if s := d.Stats(); s.Hits == 0 {
			t.Errorf("gap %s: a hit after the gap was not counted", gap)
		}
	}
}
