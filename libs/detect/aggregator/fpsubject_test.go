package aggregator

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

const (
	fpTestStuffer = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	// fpTestBrowser is the one browser build every person of the busy-shop
	// traffic shares: the most common fingerprint of a real shop.
	fpTestBrowser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

// shopTraffic is 50 minutes of a shop where people log in (one in ten
// failing, as people mistype) and browse; with stuffing, its last ten
// minutes add 40 failing logins a minute, each from a new address, all
// with one fingerprint. sameBuild gives every person the same browser build.
func shopTraffic(stuffing, sameBuild bool) (evs []*eventpb.RequestEvent, stuffers map[string]bool) {
	tr := newTraffic(20)
	ip := 0
	next := func() string { ip++; return fmt.Sprintf("10.%d.%d.%d", ip>>16&255, ip>>8&255, ip&255) }
	ua := func(i int) string {
		if sameBuild {
			return fpTestBrowser
		}
		return fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/13%d.0.0.0 Safari/537.36", i%30)
	}
	stuffers = map[string]bool{}
	for m := range 50 {
		base := time.Duration(m) * time.Minute
		for i := range 20 {
			status := uint32(302)
			if i%10 == 0 {
				status = 401
			}
			tr.add(base+time.Duration(i)*2*time.Second, next(), "POST", "/login", "", status, ua(i+m), "https://shop.example/login")
		}
		for i := range 100 {
			tr.add(base+time.Duration(i)*500*time.Millisecond, next(), "GET", fmt.Sprintf("/product/%d", 10000+(i*37+m*11)%6000), "", 200, ua(i), "")
		}
		if stuffing && m >= 40 {
			for i := range 40 {
				a := next()
				stuffers[a] = true
				tr.add(base+time.Duration(i)*1400*time.Millisecond, a, "POST", "/login", "", 401, fpTestStuffer, "https://shop.example/login")
			}
		}
	}
	return tr.sorted(), stuffers
}

func runEngine(evs []*eventpb.RequestEvent) (fp []*eventpb.Score, e *Engine) {
	e = NewEngine(testConfig(), WithAttackMode(attacks.DefaultConfig()))
	var out []*eventpb.Score
	for _, ev := range evs {
		out = e.Process(ev, out[:0])
		for _, s := range out {
			if strings.HasPrefix(s.GetSubject(), "fp:") {
				fp = append(fp, s)
			}
		}
	}
	return fp, e
}

// TestFingerprintScoredDuringAttack: credential stuffing from a new address
// per attempt, one fingerprint: the fingerprint is scored as fp:HEX, naming
// the attack, with the failing addresses seen with it and no one else's.
func TestFingerprintScoredDuringAttack(t *testing.T) {
	evs, stuffers := shopTraffic(true, false)
	fps, e := runEngine(evs)
	if len(fps) == 0 {
		t.Fatalf("no fp: score (attacks %v)", e.ActiveAttacks())
	}
	want := "fp:" + attacks.FPString(attacks.Fingerprint(&eventpb.RequestEvent{UserAgent: fpTestStuffer, Protocol: "HTTP/1.1"}))
	seen := map[string]bool{}
	for _, s := range fps {
		if s.GetSubject() != want {
			t.Fatalf("scored %s, want only the stuffer's %s", s.GetSubject(), want)
		}
		if !strings.HasPrefix(s.GetReasons()[0], "attack=login-failures-") || s.GetScore() < 90 {
			t.Fatalf("fp score %v %v: want BLOCK naming the attack", s.GetScore(), s.GetReasons())
		}
		for _, a := range s.GetAddresses() {
			if !stuffers[a] {
				t.Fatalf("fp score lists %s, not a stuffer", a)
			}
			seen[a] = true
		}
	}
	if len(fps) > len(seen)/2 {
		t.Errorf("%d fp scores for %d addresses: want new addresses sent together, at most every %s", len(fps), len(seen), time.Duration(fpEmitEvery))
	}
	t.Logf("%d fp scores for %d addresses", len(fps), len(seen))
	if got := float64(len(seen)) / float64(len(stuffers)); got < 0.5 {
		t.Errorf("fp scores cover %d of %d stuffing addresses", len(seen), len(stuffers))
	}
	st, _ := e.AttackStats()
	if st.FPScores != uint64(len(fps)) {
		t.Errorf("FPScores = %d, want %d", st.FPScores, len(fps))
	}
}

// TestBusyFingerprintWithoutAttack: a shop where every person has the same
// browser build (one fingerprint over a thousand addresses, some failing
// logins as people mistype) never scores that fingerprint: a fingerprint
// alone is never enough.
func TestBusyFingerprintWithoutAttack(t *testing.T) {
	evs, _ := shopTraffic(false, true)
	fps, e := runEngine(evs)
	if len(fps) != 0 {
		t.Fatalf("%d fp: scores without an attack, first %v", len(fps), fps[0])
	}
	if a := e.ActiveAttacks(); slices.ContainsFunc(a, func(a *eventpb.Attack) bool { return a.GetEnforcing() }) {
		t.Fatalf("an enforcing attack in normal traffic: %v", a)
	}
}

// TestFingerprintAttackEndedByOperator: `bulwark attack end ID` stops
// scoring the attack's fingerprint, and the next score of it tells the
// decider to lift its verdict.
func TestFingerprintAttackEndedByOperator(t *testing.T) {
	evs, _ := shopTraffic(true, false)
	fps, e := runEngine(evs)
	if len(fps) == 0 {
		t.Fatal("no fp: score")
	}
	id := strings.TrimPrefix(fps[0].GetReasons()[0], "attack=")
	e.EndAttack(id)
	last := evs[len(evs)-1]
	next := &eventpb.RequestEvent{TimeUnixNano: last.GetTimeUnixNano() + int64(time.Second), ClientIp: "10.200.0.1", Method: "POST",
		Path: "/login", Status: 401, UserAgent: fpTestStuffer, Protocol: "HTTP/1.1", Host: "shop.example"}
	var ended []*eventpb.Score
	for _, s := range e.Process(next, nil) {
		if strings.HasPrefix(s.GetSubject(), "fp:") {
			ended = append(ended, s)
		}
	}
	if len(ended) != 1 || ended[0].GetSubject() != fps[0].GetSubject() || ended[0].GetReasons()[0] != "attack_ended="+id || len(ended[0].GetAddresses()) != 0 {
		t.Fatalf("after the operator's end: %v", ended)
	}
}

// BenchmarkEngineStuffing runs the stuffing traffic of shopTraffic (50
// minutes, the last ten with attack mode blocking a fingerprint and scoring
// it as fp:) through one engine with attack mode, against the same events
// without it, in the same run.
func BenchmarkEngineStuffing(b *testing.B) {
	evs, _ := shopTraffic(true, false)
	for _, bc := range []struct {
		name string
		opts []Option
	}{{"baseline_attack_mode_off", nil}, {"attack_mode_fp_scores", []Option{WithAttackMode(attacks.DefaultConfig())}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var out []*eventpb.Score
			n := 0
			for b.Loop() {
				e := NewEngine(testConfig(), bc.opts...)
				for _, ev := range evs {
					out = e.Process(ev, out[:0])
				}
				n += len(evs)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestFingerprintScoredInForcedAttack: an operator's `bulwark attack start
// login --fingerprint fp:HEX` is enough for the fingerprint to be scored,
// once 3 addresses with it failed on the login; a person with another
// browser failing there is never listed.
func TestFingerprintScoredInForcedAttack(t *testing.T) {
	tr := newTraffic(5)
	fp := attacks.FPString(attacks.Fingerprint(tr.add(0, "10.9.9.9", "POST", "/login", "", 401, fpTestStuffer, "")))
	tr.evs = nil
	e := NewEngine(testConfig(), WithAttackMode(attacks.DefaultConfig()))
	if !e.ForceAttack(attacks.NewForced(attacks.ClassLogin, fp, t0, time.Hour, "test")) {
		t.Fatal("the forced attack was not taken")
	}
	for i := range 5 {
		tr.add(time.Minute+time.Duration(i)*time.Second, fmt.Sprintf("10.8.0.%d", i+1), "POST", "/login", "", 401, fpTestStuffer, "")
	}
	tr.add(time.Minute+500*time.Millisecond, "192.0.2.1", "POST", "/login", "", 401, fpTestBrowser, "")
	var fps []*eventpb.Score
	var out []*eventpb.Score
	for _, ev := range tr.sorted() {
		out = e.Process(ev, out[:0])
		for _, s := range out {
			if strings.HasPrefix(s.GetSubject(), "fp:") {
				fps = append(fps, s)
			}
		}
	}
	if len(fps) == 0 || fps[0].GetSubject() != "fp:"+fp || !strings.HasPrefix(fps[0].GetReasons()[0], "attack=login-operator-") {
		t.Fatalf("fp scores %v", fps)
	}
	if a := fps[0].GetAddresses(); len(a) != 3 || slices.Contains(a, "192.0.2.1") {
		t.Fatalf("first fp score lists %v: want the first 3 stuffers", a)
	}
}
