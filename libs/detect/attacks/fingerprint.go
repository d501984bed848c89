package attacks

import (
	"cmp"
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

// fpTracker counts fingerprints of one class: those of failing and of
// page-less requests over the last two windows, and those of normal traffic
// (while no attack is active) over the last hour.
type fpTracker struct {
	fail, nopage, normal [2]map[uint64]uint32
	failN, nopageN       [2]uint32
	normalN              [2]uint32
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

func (t *fpTracker) observe(h Hit, attacked bool, _ int64) {
	if h.Failed {
		inc(&t.fail[0], h.FP)
		t.failN[0]++
	}
	if h.NoPage {
		inc(&t.nopage[0], h.FP)
		t.nopageN[0]++
	}
	if !attacked && !h.Failed {
		inc(&t.normal[0], h.FP)
		t.normalN[0]++
	}
}

// rotate ages the counts at the end of minute m. Normal traffic's counts
// stand still while the class is under attack: they are what the attack's
// fingerprints are measured against.
func (t *fpTracker) rotate(m int64, attacked bool) {
	if (m+1)%blockMinutes == 0 {
		t.fail[1], t.fail[0], t.failN[1], t.failN[0] = t.fail[0], nil, t.failN[0], 0
		t.nopage[1], t.nopage[0], t.nopageN[1], t.nopageN[0] = t.nopage[0], nil, t.nopageN[0], 0
	}
	if (m+1)%normalRotate == 0 && !attacked {
		t.normal[1], t.normal[0], t.normalN[1], t.normalN[0] = t.normal[0], nil, t.normalN[0], 0
	}
}

// minNormal is the least normal traffic a lift is judged against, and
// minFPCount the least anomalous requests a fingerprint must carry: below
// that, one browser build among forty reaching a tenth is chance.
const (
	minNormal  = 20
	minFPCount = 10
)

// attackFPs returns the fingerprints (at most 4, the commonest first) that
// carry at least minShare of the anomalous requests and at least minLift
// times their share of normal traffic.
func (t *fpTracker) attackFPs(minShare, minLift float64, nopage bool) []string {
	src, n := t.fail, t.failN[0]+t.failN[1]
	if nopage {
		src, n = t.nopage, t.nopageN[0]+t.nopageN[1]
	}
	normN := t.normalN[0] + t.normalN[1]
	if n == 0 || normN < minNormal {
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
			share := float64(c) / float64(n)
			base := (float64(t.normal[0][fp]+t.normal[1][fp]) + 0.5) / float64(normN+1)
			if share >= minShare && share/base >= minLift {
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
