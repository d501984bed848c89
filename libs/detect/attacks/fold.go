package attacks

import (
	"cmp"
	"slices"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Site-wide across partitions. Each partition's engine sees the share of
// the site's traffic that its partition holds: judged alone, an attack
// spread over every partition is at 1/N of its strength in each, and with
// many partitions each share is too small for a steady baseline. So in the
// aggregator each partition only counts (NewCounter): at the end of every
// minute of its event time it writes its counts per endpoint class (a
// SiteCounts record), and every aggregator folds all partitions' counts
// into one Detector (Fold), which judges the whole site once: one baseline,
// one decision, one attack id.
//
// A minute is folded when every partition has counted it (the low
// watermark of the partitions' event time), so a partition that lags does
// not make a minute look quiet and then busy: its counts join the minute
// they belong to, however far behind it is (an aggregator catching up on a
// backlog). Only a partition that has sent nothing for Silent of wall time
// while it is behind (idle, or its consumer stuck) is not waited for; its
// counts that come after their minute was folded are dropped and counted
// (FoldStats.Late). Given the same records, every aggregator's fold makes
// the same decisions, whatever order and pace they arrived in, unless a
// partition falls silent.

// Silent is how long (wall time) a partition behind the others may send
// nothing before the fold stops waiting for it.
const Silent = 30 * time.Second

// fpExport is how many fingerprints of each list a minute's counts carry.
const fpExport = 64

// NewCounter returns a detector that only counts: it raises no attacks and
// hands each closed minute's counts to TakeCounts. site, when not nil, is
// the fold's detector: its active attacks keep fingerprints of attacked
// classes out of the normal counts, as a detector's own do.
func NewCounter(cfg Config, site *Detector) *Detector {
	d := New(cfg)
	d.counter = &counter{site: site}
	return d
}

// counter is a counting detector's own state: the fingerprints of the
// minute being counted.
type counter struct {
	site           *Detector
	fail, nopage   [numClasses]map[uint64]uint32
	failN, nopageN [numClasses]uint32
	normal         map[uint64]uint32
	normalN        uint32
	out            []*eventpb.SiteCounts
}

func (c *counter) observe(h Hit, attacked bool) {
	if h.Failed && h.FirstFailure {
		inc(&c.fail[h.Class], h.FP)
		c.failN[h.Class]++
	}
	if h.NoPage && h.NewClient {
		inc(&c.nopage[h.Class], h.FP)
		c.nopageN[h.Class]++
	}
	if !h.Failed && !attacked {
		inc(&c.normal, h.FP)
		c.normalN++
	}
}

// close writes the counts of minute m and starts the next minute's.
func (c *counter) close(d *Detector, m int64) {
	sc := &eventpb.SiteCounts{MinuteUnixNano: m * int64(time.Minute)}
	for cl := ClassLogin; cl < numClasses; cl++ {
		b := d.cls[cl].min[m%recentMinutes]
		if b.req == 0 {
			continue
		}
		sc.Classes = append(sc.Classes, &eventpb.ClassCounts{
			EndpointClass: cl.String(), Requests: b.req, Failures: b.fail, NewClients: b.fresh, NoPageClients: b.nopage,
			Failing: topCounts(c.fail[cl]), NoPage: topCounts(c.nopage[cl]), FailingTotal: c.failN[cl], NoPageTotal: c.nopageN[cl],
		})
		c.fail[cl], c.nopage[cl], c.failN[cl], c.nopageN[cl] = nil, nil, 0, 0
	}
	sc.Normal, sc.NormalTotal = topCounts(c.normal), c.normalN
	c.normal, c.normalN = nil, 0
	if len(sc.Classes) > 0 || sc.NormalTotal > 0 {
		c.out = append(c.out, sc)
	}
}

// topCounts returns the fpExport commonest entries of m, commonest first
// (ties by fingerprint: the records are deterministic).
func topCounts(m map[uint64]uint32) []*eventpb.FingerprintCount {
	if len(m) == 0 {
		return nil
	}
	out := make([]*eventpb.FingerprintCount, 0, len(m))
	for fp, n := range m {
		out = append(out, &eventpb.FingerprintCount{Fingerprint: fp, Count: n})
	}
	slices.SortFunc(out, func(a, b *eventpb.FingerprintCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Fingerprint, b.Fingerprint)
	})
	return out[:min(len(out), fpExport)]
}

// TakeCounts returns the counts of the minutes a counting detector closed
// since the last call, oldest first (Partition and Partitions unset).
func (d *Detector) TakeCounts() []*eventpb.SiteCounts {
	if d.counter == nil {
		return nil
	}
	out := d.counter.out
	d.counter.out = nil
	return out
}

// Fold folds every partition's counts into one site-wide Detector. It is
// not safe for concurrent use.
type Fold struct {
	det     *Detector
	wm      map[int32]int64     // the newest minute each partition counted
	seen    map[int32]time.Time // when each partition's last record came (wall time)
	pending map[int64]*eventpb.SiteCounts
	closed  int64 // the newest minute folded; 0 before any
	stats   FoldStats
}

// FoldStats are the fold's counters.
type FoldStats struct {
	Records uint64 // counts records folded
	Late    uint64 // counts records whose minute was folded before they came
}

// NewFold returns a fold; cfg must be valid. Every partition that has
// sent counts is waited for (see Silent).
func NewFold(cfg Config) *Fold {
	return &Fold{det: New(cfg), wm: map[int32]int64{}, seen: map[int32]time.Time{}, pending: map[int64]*eventpb.SiteCounts{}}
}

// Detector is the site-wide detector: its attacks and fingerprints are the
// site's (Matches, Active, Force, EndByOperator, Take).
func (f *Fold) Detector() *Detector { return f.det }

// Expect makes the fold wait for partitions 0..n-1 from wall time now,
// before they sent anything (an aggregator starting, or one partition
// slower to start than the others), until they fall silent (see Silent).
func (f *Fold) Expect(n int32, now time.Time) {
	for p := range n {
		if _, ok := f.wm[p]; !ok {
			f.wm[p], f.seen[p] = 0, now
		}
	}
}

// Stats returns the fold's counters.
func (f *Fold) Stats() FoldStats { return f.stats }

// Add takes one partition's counts of a minute, which came at wall time
// now; Advance folds them.
func (f *Fold) Add(sc *eventpb.SiteCounts, now time.Time) {
	m := sc.GetMinuteUnixNano() / int64(time.Minute)
	if m <= 0 {
		return
	}
	// A late record still says where its partition is: it is waited for
	// from now on.
	f.wm[sc.GetPartition()] = max(f.wm[sc.GetPartition()], m)
	f.seen[sc.GetPartition()] = now
	if f.closed != 0 && m <= f.closed {
		f.stats.Late++
		return
	}
	f.stats.Records++
	sum := f.pending[m]
	if sum == nil {
		sum = &eventpb.SiteCounts{MinuteUnixNano: m * int64(time.Minute)}
		f.pending[m] = sum
	}
	// The records' counts are kept as they came and summed when the
	// minute is folded (fold), in an order that does not depend on it.
	sum.Classes = append(sum.Classes, sc.GetClasses()...)
	sum.Normal = append(sum.Normal, sc.GetNormal()...)
	sum.NormalTotal += sc.GetNormalTotal()
}

// Advance folds the minutes every partition has counted (see Silent), at
// wall time now, and reports whether attack records are waiting
// (Detector().Take()).
func (f *Fold) Advance(now time.Time) bool {
	if len(f.pending) == 0 {
		return len(f.det.out) > 0
	}
	var hi int64
	for _, m := range f.wm {
		hi = max(hi, m)
	}
	low := hi
	for p, m := range f.wm {
		if m < hi && now.Sub(f.seen[p]) > Silent {
			continue // silent while behind: not waited for
		}
		low = min(low, m)
	}
	var ms []int64
	for m := range f.pending {
		if m <= low {
			ms = append(ms, m)
		}
	}
	slices.Sort(ms)
	for _, m := range ms {
		f.fold(m, f.pending[m])
		delete(f.pending, m)
		f.closed = m
	}
	return len(f.det.out) > 0
}

// fold adds the counts of minute m to the detector and closes the minute.
func (f *Fold) fold(m int64, sum *eventpb.SiteCounts) {
	d := f.det
	d.Advance(m * int64(time.Minute))
	for _, cc := range sum.GetClasses() {
		c, ok := ParseClass(cc.GetEndpointClass())
		if !ok {
			continue
		}
		cs := &d.cls[c]
		b := &cs.min[m%recentMinutes]
		b.add(bucket{req: cc.GetRequests(), fail: cc.GetFailures(), fresh: cc.GetNewClients(), nopage: cc.GetNoPageClients(), filled: true})
		d.stats.Hits += uint64(cc.GetRequests())
		d.dirty.cur[c] = true
		for _, x := range cc.GetFailing() {
			addN(&cs.fps.fail[0], x.GetFingerprint(), x.GetCount())
		}
		for _, x := range cc.GetNoPage() {
			addN(&cs.fps.nopage[0], x.GetFingerprint(), x.GetCount())
		}
		cs.fps.failN[0] += cc.GetFailingTotal()
		cs.fps.nopageN[0] += cc.GetNoPageTotal()
	}
	for _, x := range sum.GetNormal() {
		addN(&d.normal.m[0], x.GetFingerprint(), x.GetCount())
	}
	d.normal.n[0] += sum.GetNormalTotal()
	d.Advance((m + 1) * int64(time.Minute))
}

func addN(m *map[uint64]uint32, fp uint64, n uint32) {
	if *m == nil {
		*m = map[uint64]uint32{}
	}
	if _, ok := (*m)[fp]; ok || len(*m) < fpMax {
		(*m)[fp] += n
	}
}
