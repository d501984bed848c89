package attacks

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Fingerprint hashes what a client shows that is hard to vary per request
// and is the same on every request of the client: the user agent, the
// protocol, the TLS fingerprints (JA3, JA4) where the CDN logs them, and
// which optional headers the log carries for it (Accept-Language,
// Sec-Fetch-*). Many people share one browser build, so a fingerprint alone
// never says "bot"; what it says is "these addresses are one tool" when an
// attack's requests carry it far more often than normal traffic does.
func Fingerprint(ev *eventpb.RequestEvent) uint64 {
	d := xxhash.New()
	d.WriteString(ev.GetUserAgent())
	d.Write([]byte{0})
	d.WriteString(ev.GetProtocol())
	d.Write([]byte{0})
	d.WriteString(ev.GetJa3())
	d.Write([]byte{0})
	d.WriteString(ev.GetJa4())
	var hdr byte
	if ev.AcceptLanguage != nil {
		hdr |= 1
		if *ev.AcceptLanguage == "" || *ev.AcceptLanguage == "-" {
			hdr |= 2
		}
	}
	if ev.GetSecFetchMode() != "" {
		hdr |= 4
	}
	if ev.GetSecFetchDest() != "" {
		hdr |= 8
	}
	d.Write([]byte{0, hdr})
	return d.Sum64()
}

// FPString is a fingerprint as fp: subjects and attack records write it.
func FPString(fp uint64) string {
	s := strconv.FormatUint(fp, 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}

// fpMax bounds each count map: a tool rotating user agents per request
// fills it, and then new fingerprints are counted as "other" only.
const fpMax = 8192

// fpTracker counts fingerprints of one class's failing and page-less
// requests over the last two five-minute blocks.
type fpTracker struct {
	fail, nopage   [2]map[uint64]uint32
	failN, nopageN [2]uint32
}

// fpNormal counts the fingerprints of normal traffic, every class together
// (the site's population of browsers and tools), over the last hour. Its
// counts stand still while any class is under attack: they are what the
// attack's fingerprints are measured against.
type fpNormal struct {
	m [2]map[uint64]uint32
	n [2]uint32
}

const normalRotate = 30 // minutes

func inc(m *map[uint64]uint32, fp uint64) {
	if *m == nil {
		*m = map[uint64]uint32{}
	}
	if _, ok := (*m)[fp]; ok || len(*m) < fpMax {
		(*m)[fp]++
	}
}

func (t *fpTracker) observe(h Hit) {
	if h.Failed && h.FirstFailure {
		inc(&t.fail[0], h.FP)
		t.failN[0]++
	}
	if h.NoPage && h.NewClient {
		inc(&t.nopage[0], h.FP)
		t.nopageN[0]++
	}
}

// rotate ages the counts at the end of minute m.
func (t *fpTracker) rotate(m int64) {
	if (m+1)%blockMinutes == 0 {
		t.fail[1], t.fail[0], t.failN[1], t.failN[0] = t.fail[0], nil, t.failN[0], 0
		t.nopage[1], t.nopage[0], t.nopageN[1], t.nopageN[0] = t.nopage[0], nil, t.nopageN[0], 0
	}
}

func (t *fpNormal) observe(fp uint64) {
	inc(&t.m[0], fp)
	t.n[0]++
}

func (t *fpNormal) rotate(m int64) {
	if (m+1)%normalRotate == 0 {
		t.m[1], t.m[0], t.n[1], t.n[0] = t.m[0], nil, t.n[0], 0
	}
}

// share is fp's share of normal traffic (with half a count added, so that
// a fingerprint never seen has a small share rather than none).
func (t *fpNormal) share(fp uint64) float64 {
	return (float64(t.m[0][fp]+t.m[1][fp]) + 0.5) / float64(t.n[0]+t.n[1]+1)
}

// minNormal is the least normal traffic a lift is judged against, and
// minFPCount the least anomalous requests a fingerprint must carry.
const (
	minNormal  = 200
	minFPCount = 10
)

// attackFPs returns the fingerprints (at most 4, the commonest first) that
// carry at least minShare of the anomalous requests, at least minLift times
// their share of normal traffic, and more than chance would give them: four
// standard deviations over what their normal share predicts. Many people
// share a browser build; an outage's failures carry each build about as
// often as normal traffic does, a tool's carry its own far more often.
func (t *fpTracker) attackFPs(normal *fpNormal, minShare, minLift float64, nopage bool) []string {
	src, n := t.fail, t.failN[0]+t.failN[1]
	if nopage {
		src, n = t.nopage, t.nopageN[0]+t.nopageN[1]
	}
	if n == 0 || normal.n[0]+normal.n[1] < minNormal {
		return nil
	}
	type cand struct {
		fp uint64
		n  uint32
	}
	var cs []cand
	seen := map[uint64]bool{}
	for _, m := range src {
		for fp := range m {
			if seen[fp] {
				continue
			}
			seen[fp] = true
			c := src[0][fp] + src[1][fp]
			if c < minFPCount {
				continue
			}
			base := normal.share(fp)
			expect := base * float64(n)
			share := float64(c) / float64(n)
			if share >= minShare && share/base >= minLift && float64(c) >= expect+4*math.Sqrt(max(expect, 1)) {
				cs = append(cs, cand{fp, c})
			}
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return cmp.Compare(a.fp, b.fp)
	})
	out := make([]string, 0, min(len(cs), 4))
	for _, c := range cs[:min(len(cs), 4)] {
		out = append(out, FPString(c.fp))
	}
	return out
}

// Matches reports whether fp is one of the fingerprints of an enforcing
// attack on class c, and returns that attack.
func (d *Detector) Matches(c Class, fp uint64) (a *eventpb.Attack, match bool) {
	if c >= numClasses {
		return nil, false
	}
	fs := FPString(fp)
	if x := d.cls[c].forced; x != nil {
		// An operator's attack comes first: it is what they asked for.
		a = x
		if slices.Contains(x.Fingerprints, fs) {
			return x, true
		}
	}
	for _, x := range d.cls[c].active {
		if x == nil || !x.Enforcing {
			continue
		}
		if a == nil {
			a = x
		}
		if slices.Contains(x.Fingerprints, fs) {
			return x, true
		}
	}
	return a, false
}
