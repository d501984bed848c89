package attacks

import (
	"cmp"
	"slices"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Checkpoints. The detector's history (eight days of seasonal blocks, two
// hours of minutes, the attacks it has active and the fingerprints it
// counts) is what a restarted or moved partition would otherwise take a
// week to learn again. It is saved in parts, so that the aggregator writes
// only what changed to its state topic (at every transaction, 200 ms by
// default) and every part stays small:
//
//   - MetaState: the clock and the fingerprints of normal traffic, written
//     when a minute closes;
//   - RingState: a class's closed minutes of the last two hours and its
//     per-signal quiet counts, written when a minute closes;
//   - CurrentState: a class's open minute, written whenever it counted a
//     request (a few bytes);
//   - SeasonState: a class's seasonal blocks in chunks of SeasonChunk (four
//     hours), the chunk being filled written when a minute closes;
//   - FPState: a class's fingerprint counts, written when a minute closes;
//   - the active attacks, as their records (eventpb.Attack).
//
// A counter (NewCounter) saves its clock and its open minute only.
//
// The parts are plain structs of scalars and arrays for the aggregator's
// field-by-name state format: a field added later is zero in older records,
// and older releases skip the names they do not know. Fingerprint tables
// keep their FPKeep commonest entries (bounded records; the tables
// themselves hold up to fpMax), and are as of the last closed minute: a
// restart loses at most one minute of fingerprint counts, never a baseline.

// SeasonChunk is the blocks of one SeasonState; SeasonChunks the chunks of
// a class.
const (
	SeasonChunk  = 48
	SeasonChunks = seasonBlocks / SeasonChunk
)

// FPKeep is how many fingerprints of each table a checkpoint keeps.
const FPKeep = 256

// Classes are the classes a detector keeps state for.
func Classes() []Class {
	out := make([]Class, 0, numClasses-1)
	for c := ClassLogin; c < numClasses; c++ {
		out = append(out, c)
	}
	return out
}

// Signals is the number of signals per class (the index of Saver.Active).
const Signals = len(signals)

// Bucket flags in a checkpoint.
const (
	flagFilled   = 1
	flagAttacked = 2
)

// MetaState is the detector's clock and normal fingerprints.
type MetaState struct {
	Minute      int64             `state:"minute"`
	First       int64             `state:"first"`
	NormalFP    [2][FPKeep]uint64 `state:"normal_fp"`
	NormalCount [2][FPKeep]uint32 `state:"normal_count"`
	NormalN     [2]uint32         `state:"normal_n"`
}

// RingState is a class's closed minutes (the open minute, Minute, is
// CurrentState's) and its signals' quiet and mute state.
type RingState struct {
	Minute int64                 `state:"minute"`
	Req    [recentMinutes]uint32 `state:"req"`
	Fail   [recentMinutes]uint32 `state:"fail"`
	Fresh  [recentMinutes]uint32 `state:"fresh"`
	NoPage [recentMinutes]uint32 `state:"nopage"`
	Flags  [recentMinutes]uint8  `state:"flags"`
	Quiet  [len(signals)]int32   `state:"quiet"`
	Muted  [len(signals)]bool    `state:"muted"`
}

// CurrentState is a class's open minute.
type CurrentState struct {
	Minute int64  `state:"minute"`
	Req    uint32 `state:"req"`
	Fail   uint32 `state:"fail"`
	Fresh  uint32 `state:"fresh"`
	NoPage uint32 `state:"nopage"`
}

// SeasonState is one chunk of a class's seasonal blocks.
type SeasonState struct {
	Req    [SeasonChunk]uint32 `state:"req"`
	Fail   [SeasonChunk]uint32 `state:"fail"`
	Fresh  [SeasonChunk]uint32 `state:"fresh"`
	NoPage [SeasonChunk]uint32 `state:"nopage"`
	Flags  [SeasonChunk]uint8  `state:"flags"`
}

// FPState is a class's fingerprint counts (two five-minute blocks).
type FPState struct {
	FailFP      [2][FPKeep]uint64 `state:"fail_fp"`
	FailCount   [2][FPKeep]uint32 `state:"fail_count"`
	FailN       [2]uint32         `state:"fail_n"`
	NoPageFP    [2][FPKeep]uint64 `state:"nopage_fp"`
	NoPageCount [2][FPKeep]uint32 `state:"nopage_count"`
	NoPageN     [2]uint32         `state:"nopage_n"`
}

// Saver receives the parts of a checkpoint (Detector.Changes). The
// pointers are valid during the call only.
type Saver interface {
	Meta(*MetaState)
	Ring(Class, *RingState)
	Current(Class, *CurrentState)
	Season(c Class, chunk int, s *SeasonState)
	FPs(Class, *FPState)
	// Active is signal si's active attack on c, nil when it has none (any
	// more).
	Active(c Class, si int, a *eventpb.Attack)
}

// dirty says which parts changed since the last Changes.
type dirty struct {
	meta   bool
	ring   [numClasses]bool
	cur    [numClasses]bool
	fps    [numClasses]bool
	active [numClasses][len(signals)]bool
	season [numClasses][SeasonChunks]bool
}

func (x *dirty) all() {
	x.meta = true
	for c := range numClasses {
		x.ring[c], x.cur[c], x.fps[c] = true, true, true
		for i := range x.active[c] {
			x.active[c][i] = true
		}
		for i := range x.season[c] {
			x.season[c][i] = true
		}
	}
}

// Changes hands s every part changed since the last call (every part on
// the first call).
func (d *Detector) Changes(s Saver) {
	if !d.saved {
		d.saved = true
		d.dirty.all()
	}
	x := &d.dirty
	if x.meta {
		var m MetaState
		m.Minute, m.First = d.minute, d.first
		for i := range 2 {
			keepTop(d.normal.m[i], &m.NormalFP[i], &m.NormalCount[i])
		}
		m.NormalN = d.normal.n
		s.Meta(&m)
	}
	for _, c := range Classes() {
		cs := &d.cls[c]
		if d.counter != nil {
			// A counter's history is the fold's (the site-counts topic):
			// only its open minute is its own.
			if x.cur[c] && d.minute != 0 {
				b := cs.min[d.minute%recentMinutes]
				s.Current(c, &CurrentState{Minute: d.minute, Req: b.req, Fail: b.fail, Fresh: b.fresh, NoPage: b.nopage})
			}
			continue
		}
		if x.ring[c] {
			r := RingState{Minute: d.minute}
			for i, b := range cs.min {
				if d.minute != 0 && int64(i) == d.minute%recentMinutes {
					continue
				}
				r.Req[i], r.Fail[i], r.Fresh[i], r.NoPage[i], r.Flags[i] = b.req, b.fail, b.fresh, b.nopage, flags(b)
			}
			for si := range signals {
				r.Quiet[si], r.Muted[si] = int32(cs.quiet[si]), cs.muted[si]
			}
			s.Ring(c, &r)
		}
		if x.cur[c] && d.minute != 0 {
			b := cs.min[d.minute%recentMinutes]
			s.Current(c, &CurrentState{Minute: d.minute, Req: b.req, Fail: b.fail, Fresh: b.fresh, NoPage: b.nopage})
		}
		for k := range SeasonChunks {
			if !x.season[c][k] {
				continue
			}
			var st SeasonState
			for i := range SeasonChunk {
				b := cs.season[k*SeasonChunk+i]
				st.Req[i], st.Fail[i], st.Fresh[i], st.NoPage[i], st.Flags[i] = b.req, b.fail, b.fresh, b.nopage, flags(b)
			}
			s.Season(c, k, &st)
		}
		if x.fps[c] {
			var f FPState
			for i := range 2 {
				keepTop(cs.fps.fail[i], &f.FailFP[i], &f.FailCount[i])
				keepTop(cs.fps.nopage[i], &f.NoPageFP[i], &f.NoPageCount[i])
			}
			f.FailN, f.NoPageN = cs.fps.failN, cs.fps.nopageN
			s.FPs(c, &f)
		}
		for si := range signals {
			if x.active[c][si] {
				s.Active(c, si, cs.active[si])
			}
		}
	}
	d.dirty = dirty{}
}

func flags(b bucket) uint8 {
	var f uint8
	if b.filled {
		f |= flagFilled
	}
	if b.attacked {
		f |= flagAttacked
	}
	return f
}

func fromFlags(req, fail, fresh, nopage uint32, f uint8) bucket {
	return bucket{req: req, fail: fail, fresh: fresh, nopage: nopage, filled: f&flagFilled != 0, attacked: f&flagAttacked != 0}
}

// keepTop writes the FPKeep commonest entries of m (ties by fingerprint,
// so that a checkpoint is deterministic).
func keepTop(m map[uint64]uint32, fps *[FPKeep]uint64, counts *[FPKeep]uint32) {
	type kv struct {
		fp uint64
		n  uint32
	}
	all := make([]kv, 0, len(m))
	for fp, n := range m {
		all = append(all, kv{fp, n})
	}
	slices.SortFunc(all, func(a, b kv) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return cmp.Compare(a.fp, b.fp)
	})
	for i, e := range all[:min(len(all), FPKeep)] {
		fps[i], counts[i] = e.fp, e.n
	}
}

func fromTop(fps *[FPKeep]uint64, counts *[FPKeep]uint32) map[uint64]uint32 {
	var m map[uint64]uint32
	for i, n := range counts {
		if n == 0 {
			continue
		}
		if m == nil {
			m = map[uint64]uint32{}
		}
		m[fps[i]] = n
	}
	return m
}

// The Load methods restore the parts Changes wrote, in any order; parts
// never written stay as in a fresh detector.

// LoadMeta restores the clock and the normal fingerprints.
func (d *Detector) LoadMeta(m *MetaState) {
	if m.Minute < 0 || m.First < 0 || m.First > m.Minute {
		return // not a clock this detector wrote: it starts afresh
	}
	d.minute, d.first = m.Minute, m.First
	for i := range 2 {
		d.normal.m[i] = fromTop(&m.NormalFP[i], &m.NormalCount[i])
	}
	d.normal.n = m.NormalN
}

// LoadRing restores a class's closed minutes.
func (d *Detector) LoadRing(c Class, r *RingState) {
	if c == ClassNone || c >= numClasses {
		return
	}
	cs := &d.cls[c]
	for i := range cs.min {
		if r.Minute != 0 && int64(i) == r.Minute%recentMinutes {
			continue // the open minute: CurrentState's
		}
		cs.min[i] = fromFlags(r.Req[i], r.Fail[i], r.Fresh[i], r.NoPage[i], r.Flags[i])
	}
	for si := range signals {
		cs.quiet[si], cs.muted[si] = int(r.Quiet[si]), r.Muted[si]
	}
}

// LoadCurrent restores a class's open minute.
func (d *Detector) LoadCurrent(c Class, s *CurrentState) {
	if c == ClassNone || c >= numClasses || s.Minute <= 0 {
		return
	}
	d.cls[c].min[s.Minute%recentMinutes] = bucket{req: s.Req, fail: s.Fail, fresh: s.Fresh, nopage: s.NoPage, filled: true}
}

// LoadSeason restores one chunk of a class's seasonal blocks.
func (d *Detector) LoadSeason(c Class, chunk int, s *SeasonState) {
	if c == ClassNone || c >= numClasses || chunk < 0 || chunk >= SeasonChunks {
		return
	}
	for i := range SeasonChunk {
		d.cls[c].season[chunk*SeasonChunk+i] = fromFlags(s.Req[i], s.Fail[i], s.Fresh[i], s.NoPage[i], s.Flags[i])
	}
}

// LoadFPs restores a class's fingerprint counts.
func (d *Detector) LoadFPs(c Class, f *FPState) {
	if c == ClassNone || c >= numClasses {
		return
	}
	t := &d.cls[c].fps
	for i := range 2 {
		t.fail[i] = fromTop(&f.FailFP[i], &f.FailCount[i])
		t.nopage[i] = fromTop(&f.NoPageFP[i], &f.NoPageCount[i])
	}
	t.failN, t.nopageN = f.FailN, f.NoPageN
}

// LoadActive restores signal si's active attack on c (nil: none).
func (d *Detector) LoadActive(c Class, si int, a *eventpb.Attack) {
	if c == ClassNone || c >= numClasses || si < 0 || si >= len(signals) {
		return
	}
	if a != nil {
		a = cloneAttack(a)
	}
	d.cls[c].active[si] = a
}
