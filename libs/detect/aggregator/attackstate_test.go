package aggregator

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// siteHits is a week and a day of a shop's login and page traffic, minute
// by minute from t0, with extra hits where extra says.
type siteHits struct {
	t0  int64
	rng *rand.Rand
}

func (s *siteHits) minute(m int, extra func(m int) []attacks.Hit) []attacks.Hit {
	var hs []attacks.Hit
	for range 15 + s.rng.IntN(10) {
		hs = append(hs, attacks.Hit{Class: attacks.ClassLogin, Failed: s.rng.Float64() < 0.1, NewClient: s.rng.Float64() < 0.3, FP: uint64(1 + s.rng.IntN(40))})
	}
	for range 20 + s.rng.IntN(5) {
		hs = append(hs, attacks.Hit{Class: attacks.ClassPages, NewClient: s.rng.Float64() < 0.3, FP: uint64(1 + s.rng.IntN(40))})
	}
	hs = append(hs, extra(m)...)
	base := s.t0 + int64(m)*int64(time.Minute)
	for i := range hs {
		hs[i].T = base + int64(i)*int64(time.Minute)/int64(len(hs)+1)
		hs[i].FirstFailure = hs[i].Failed
	}
	return hs
}

func feed(d *attacks.Detector, hs []attacks.Hit) []*eventpb.Attack {
	var out []*eventpb.Attack
	for _, h := range hs {
		if d.Advance(h.T) {
			out = append(out, d.Take()...)
		}
		d.Observe(h)
	}
	return out
}

// compacted keeps state records as a compacted topic does.
type compacted map[string][]byte

func (c compacted) put(k, v []byte) {
	if v == nil {
		delete(c, string(k))
		return
	}
	c[string(k)] = v
}

func (c compacted) load(t *testing.T, e *Engine) {
	t.Helper()
	for k, v := range c {
		if err := e.Load([]byte(k), v); err != nil {
			t.Fatalf("load %q: %v", k, err)
		}
	}
}

// TestAttackStateSurvivesRestart: an engine with attack mode runs eight
// days; for the last two hours a no-page anomaly on the login keeps its
// recent minutes out of the baseline, so a credential-stuffing burst that
// starts five minutes after a restart can only be judged against the same
// time yesterday and last week. An engine restored from the state records
// records the same attacks as one never stopped; a fresh engine (state
// from before this release, without the attack records) records none, and
// neither does one restored without the seasonal blocks.
func TestAttackStateSurvivesRestart(t *testing.T) {
	cfg := attacks.DefaultConfig()
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).UnixNano()
	restart := 8*24*60 + 10*60
	extra := func(m int) []attacks.Hit {
		var hs []attacks.Hit
		if m >= restart-150 && m < restart+30 {
			for range 30 { // a tool probing the login without pages
				hs = append(hs, attacks.Hit{Class: attacks.ClassLogin, NoPage: true, NewClient: true, FP: 777})
			}
		}
		if m >= restart+5 && m < restart+40 {
			for range 40 {
				hs = append(hs, attacks.Hit{Class: attacks.ClassLogin, Failed: true, NewClient: true, FP: 999})
			}
		}
		return hs
	}
	gen := &siteHits{t0: t0, rng: rand.New(rand.NewPCG(3, 4))}
	var before, after [][]attacks.Hit
	for m := range restart + 60 {
		hs := gen.minute(m, extra)
		if m < restart {
			before = append(before, hs)
		} else {
			after = append(after, hs)
		}
	}
	newEng := func() *Engine {
		e := NewEngine(testConfig(), WithAttackMode(cfg))
		e.TrackChanges()
		return e
	}
	whole := newEng()
	state := compacted{}
	for i, hs := range before {
		feed(whole.attack.det, hs)
		if i%7 == 0 || i == len(before)-1 {
			whole.Changes(state.put) // incremental, as the service's transactions
		}
	}
	restored, fresh, noSeason := newEng(), newEng(), newEng()
	state.load(t, restored)
	recent := compacted{} // the state without the seasonal blocks
	for k, v := range state {
		if k[0] != recAttack || k[1] != partSeason {
			recent[k] = v
		}
	}
	recent.load(t, noSeason)

	// Everything saved comes back: the restored engine's first checkpoint
	// (all parts) is the uninterrupted engine's, byte for byte.
	again := compacted{}
	restored.Changes(again.put)
	for k, v := range state {
		if k[0] == recAttack && !bytes.Equal(again[k], v) {
			t.Errorf("attack state record %q differs after a reload", k)
		}
	}

	var want, got, none, short []*eventpb.Attack
	for _, hs := range after {
		want = append(want, feed(whole.attack.det, hs)...)
		got = append(got, feed(restored.attack.det, hs)...)
		none = append(none, feed(fresh.attack.det, hs)...)
		short = append(short, feed(noSeason.attack.det, hs)...)
	}
	var stuffing *eventpb.Attack
	for _, a := range want {
		if strings.HasPrefix(a.GetId(), "login-failures-") && stuffing == nil {
			stuffing = a
		}
	}
	if stuffing == nil {
		t.Fatalf("the uninterrupted engine recorded no login-failures attack after the restart point: %v", want)
	}
	if len(got) != len(want) {
		t.Fatalf("restored engine: %d attack records, uninterrupted: %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("record %d: restored %v, uninterrupted %v", i, got[i], want[i])
		}
	}
	for _, a := range append(none, short...) {
		if strings.HasPrefix(a.GetId(), "login-failures-") {
			t.Errorf("an engine without the seasonal history judged %s: the test does not need last week's baseline", a.GetId())
		}
	}
}

// TestLongWindowStateSurvivesRestart: an all-day scraper's long windows
// come back from the state records, and the restored engine raises it as
// the uninterrupted one does.
func TestLongWindowStateSurvivesRestart(t *testing.T) {
	e := NewEngine(testConfig(), WithAttackMode(attacks.DefaultConfig()))
	e.TrackChanges()
	state := compacted{}
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC).UnixNano()
	var k, other addrKey
	k[15], other[15] = 1, 2
	gap := int64(time.Hour) / 450
	id := uint32(10001)
	at := t0
	for ; at < t0+int64(2*time.Hour); at += gap {
		id = id*1103515245 + 12345
		e.attack.observeLong(k, at, false, id%6000, true, true)
		if at < t0+int64(10*time.Minute) {
			e.attack.observeLong(other, at, false, id%6000, true, true)
		}
		if (at-t0)/gap%50 == 0 {
			e.Changes(state.put)
		}
	}
	// other goes idle (a tombstone) while the scraper goes on.
	e.attack.sweepLong(t0 + int64(10*time.Minute+longIdle) + 1)
	if _, ok := e.attack.long[k]; !ok || e.attack.long[other] != nil {
		t.Fatal("the test must keep the scraper's windows and drop the other's")
	}
	e.Changes(state.put)
	r := NewEngine(testConfig(), WithAttackMode(attacks.DefaultConfig()))
	state.load(t, r)
	if !reflect.DeepEqual(r.attack.long, e.attack.long) {
		t.Fatalf("long windows after a reload: %+v, want %+v", r.attack.long, e.attack.long)
	}
	wf, wr := e.attack.observeLong(k, at, false, 7, true, true)
	if wf == 0 {
		t.Fatal("the scraper was not raised by its long window")
	}
	e2 := NewEngine(testConfig(), WithAttackMode(attacks.DefaultConfig()))
	state.load(t, e2)
	if ls := e2.attack.long[k]; ls == nil {
		t.Fatal("the scraper's long windows were not restored")
	}
	gf, gr := e2.attack.observeLong(k, at, false, 7, true, true)
	if gf != wf || gr != wr {
		t.Errorf("restored: floor %v %q; uninterrupted: %v %q", gf, gr, wf, wr)
	}
}

// TestAttackStateOldRecords: state written before the attack records
// existed loads into an engine with attack mode.
func TestAttackStateOldRecords(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "state-*.records"))
	if len(files) == 0 {
		t.Fatal("no testdata/state-*.records")
	}
	for _, f := range files {
		recs, err := readRecords(f)
		if err != nil {
			t.Fatal(err)
		}
		e := NewEngine(testConfig(), WithIdleTimeout(5*time.Minute), WithAttackMode(attacks.DefaultConfig()))
		for _, r := range recs {
			if err := e.Load(r[0], r[1]); err != nil {
				t.Fatalf("%s: load %q: %v", f, r[0], err)
			}
		}
		if len(e.ActiveAttacks()) != 0 {
			t.Errorf("%s: attacks from nowhere", f)
		}
	}
}

// BenchmarkAttackState reports the size of attack mode's state records for
// one partition after eight days of traffic: all of them (what a restore
// reads, "bytes/partition"), and what one transaction writes on average
// when it commits every 12 s of event time ("bytes/commit"; the service
// commits every 200 ms, so most of its transactions write only the open
// minutes).
func BenchmarkAttackState(b *testing.B) {
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).UnixNano()
	b.ReportAllocs()
	for range b.N {
		e := NewEngine(testConfig(), WithAttackMode(attacks.DefaultConfig()))
		e.TrackChanges()
		gen := &siteHits{t0: t0, rng: rand.New(rand.NewPCG(3, 4))}
		state := compacted{}
		var written, commits int
		for m := range 8 * 24 * 60 {
			hs := gen.minute(m, func(int) []attacks.Hit { return nil })
			for i := 0; i < len(hs); i += len(hs)/5 + 1 {
				feed(e.attack.det, hs[i:min(i+len(hs)/5+1, len(hs))])
				e.Changes(func(k, v []byte) {
					if k[0] == recAttack {
						written += len(k) + len(v)
					}
					state.put(k, v)
				})
				commits++
			}
		}
		total := 0
		for k, v := range state {
			if k[0] == recAttack {
				total += len(k) + len(v)
			}
		}
		b.ReportMetric(float64(total), "bytes/partition")
		b.ReportMetric(float64(written)/float64(commits), "bytes/commit")
	}
}

// FuzzAttackStateLoad: any attack-mode record, well-formed or not, loads or
// is refused as incompatible; it never panics, and the engine still runs.
func FuzzAttackStateLoad(f *testing.F) {
	e := NewEngine(testConfig(), WithAttackMode(attacks.DefaultConfig()))
	e.TrackChanges()
	gen := &siteHits{t0: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC).UnixNano(), rng: rand.New(rand.NewPCG(1, 1))}
	for m := range 40 {
		feed(e.attack.det, gen.minute(m, func(int) []attacks.Hit { return nil }))
	}
	e.attack.observeLong(addrKey{15: 1}, gen.t0, false, 7, true, true)
	e.Changes(func(k, v []byte) {
		if k[0] == recAttack || k[0] == recLong {
			f.Add(k, v)
		}
	})
	f.Add([]byte{recAttack, partSeason, 9, 200}, []byte{8, 2})
	f.Add([]byte{recAttack, partActive, 1, 7}, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		if len(k) == 0 || (k[0] != recAttack && k[0] != recLong) {
			return
		}
		e := NewEngine(testConfig(), WithAttackMode(attacks.DefaultConfig()))
		if err := e.Load(k, v); err != nil && !errors.Is(err, ErrIncompatibleState) {
			t.Fatalf("load %q: %v", k, err)
		}
		e.Process(&eventpb.RequestEvent{TimeUnixNano: gen.t0 + int64(time.Hour), ClientIp: "203.0.113.7", Method: "POST", Path: "/login", Status: 401}, nil)
	})
}

// TestAttackStateLoadNegative: records with negative clocks are refused or
// ignored, never used as ring indices.
func TestAttackStateLoadNegative(t *testing.T) {
	e := NewEngine(testConfig(), WithAttackMode(attacks.DefaultConfig()))
	if err := e.Load([]byte{recAttack, partMeta, 0, 0}, encodeState(&attacks.MetaState{Minute: -5, First: -9})); err != nil {
		t.Fatal(err)
	}
	if err := e.Load([]byte{recAttack, partCurrent, 1, 0}, encodeState(&attacks.CurrentState{Minute: -3, Req: 1})); err != nil {
		t.Fatal(err)
	}
	if err := e.Load(append([]byte{recLong}, make([]byte, 16)...), encodeState(&longState{slot: -4})); !errors.Is(err, ErrIncompatibleState) {
		t.Errorf("a long window with a negative slot: %v, want incompatible", err)
	}
	e.Process(&eventpb.RequestEvent{TimeUnixNano: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC).UnixNano(), ClientIp: "203.0.113.7", Method: "POST", Path: "/login", Status: 401}, nil)
}
