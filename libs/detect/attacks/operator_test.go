package attacks_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
)

func TestParseFP(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"fp:0123456789abcdef", "0123456789abcdef", true},
		{"0123456789abcdef", "0123456789abcdef", true},
		{"fp:0123456789ABCDEF", "", false},
		{"fp:0123", "", false},
		{"", "", false},
	} {
		got, err := attacks.ParseFP(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseFP(%q) = %q, %v; want %q, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

// TestForced: a forced attack is matched on its class (and its fingerprint)
// from when it is applied, ends by itself at its time with a record, and an
// operator's end removes it at once.
func TestForced(t *testing.T) {
	d := attacks.New(attacks.DefaultConfig())
	start := time.Unix(0, t0)
	d.Advance(t0)
	const fp = "00000000000003e7" // FPString(999)
	a := attacks.NewForced(attacks.ClassLogin, fp, start, 10*time.Minute, "ticket 42")
	if a.GetId() != "login-operator-2026-12-03T09:00Z-00000000" || !a.GetEnforcing() {
		t.Fatalf("forced record %v", a)
	}
	if !d.Force(a) || d.Force(a) {
		t.Fatal("Force: want taken once")
	}
	if got, match := d.Matches(attacks.ClassLogin, 999); got == nil || !match || got.GetId() != a.GetId() {
		t.Errorf("Matches(login, fp) = %v, %v", got, match)
	}
	if got, match := d.Matches(attacks.ClassLogin, 5); got == nil || match {
		t.Errorf("Matches(login, other fp) = %v, %v: want the attack, no match", got, match)
	}
	if got, _ := d.Matches(attacks.ClassSearch, 999); got != nil {
		t.Errorf("Matches(search) = %v, want none", got)
	}
	d.Advance(t0 + int64(9*time.Minute))
	if len(d.Take()) != 0 || d.Stats().Active != 1 {
		t.Fatalf("before its time: active %d", d.Stats().Active)
	}
	d.Advance(t0 + int64(11*time.Minute))
	recs := d.Take()
	if len(recs) != 1 || recs[0].GetEndedUnixNano() != a.GetUntilUnixNano() || recs[0].GetEnforcing() {
		t.Fatalf("expiry records %v", recs)
	}
	if d.Stats().Active != 0 || d.Force(a) {
		t.Errorf("after its time: active %d, or forced again", d.Stats().Active)
	}

	b := attacks.NewForced(attacks.ClassCart, "", time.Unix(0, t0+int64(12*time.Minute)), time.Hour, "x")
	if !d.Force(b) || !d.EndByOperator(b.GetId()) || d.Stats().Active != 0 || d.EndByOperator(b.GetId()) {
		t.Errorf("end of a forced attack: active %d", d.Stats().Active)
	}
	e := attacks.Ended(b, time.Unix(0, t0+int64(13*time.Minute)), "done")
	if e.GetSource() != attacks.SourceOperator || e.GetEndedUnixNano() == 0 || !strings.HasPrefix(e.GetReason(), "ended by an operator: done") {
		t.Errorf("Ended record %v", e)
	}
}

// TestEndDetected: an operator ends a detected attack; the same anomaly
// going on does not raise it again.
func TestEndDetected(t *testing.T) {
	d := attacks.New(attacks.DefaultConfig())
	var ended string
	stuffing := func(m int, rng *rand.Rand) []attacks.Hit {
		if m == 55 && ended == "" {
			for _, a := range d.Active() {
				if d.EndByOperator(a.GetId()) {
					ended = a.GetId()
				}
			}
		}
		if m < 50 {
			return nil
		}
		var hs []attacks.Hit
		for range 30 {
			hs = append(hs, attacks.Hit{Class: attacks.ClassLogin, Failed: true, NewClient: true, FP: 999})
		}
		return hs
	}
	recs := traffic(d, 70, stuffing)
	if ended == "" {
		t.Fatalf("no attack active at minute 55; records %v", recs)
	}
	for _, r := range recs {
		if r.GetSignal() == attacks.SignalFailures && r.GetTimeUnixNano() > t0+int64(56*time.Minute) {
			t.Errorf("record after the operator ended %s: %s %s", ended, r.GetId(), r.GetReason())
		}
	}
}

// FuzzParseFP: any input gives an error or 16 lowercase hex digits that
// parse again to themselves.
func FuzzParseFP(f *testing.F) {
	for _, s := range []string{"fp:0123456789abcdef", "0123456789abcdef", "fp:", "fp:fp:0123456789abcdef", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := attacks.ParseFP(s)
		if err != nil {
			return
		}
		if len(h) != 16 || strings.Trim(h, "0123456789abcdef") != "" {
			t.Fatalf("ParseFP(%q) = %q", s, h)
		}
		if again, err := attacks.ParseFP("fp:" + h); err != nil || again != h {
			t.Fatalf("ParseFP(fp:%q) = %q, %v", h, again, err)
		}
	})
}
