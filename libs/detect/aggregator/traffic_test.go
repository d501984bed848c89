package aggregator

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// traffic builds labelled synthetic request streams for the tests.
type traffic struct {
	rng *rand.Rand
	evs []*eventpb.RequestEvent
}

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"

func newTraffic(seed uint64) *traffic {
	return &traffic{rng: rand.New(rand.NewPCG(seed, seed^0xabcdef))}
}

func (tr *traffic) add(at time.Duration, ip, method, path, query string, status uint32, ua, referer string) *eventpb.RequestEvent {
	ev := &eventpb.RequestEvent{
		TimeUnixNano: t0.Add(at).UnixNano(), ClientIp: ip, Method: method, Path: path, Query: query,
		Status: status, UserAgent: ua, Referer: referer, Protocol: "HTTP/1.1", Host: "shop.example",
	}
	tr.evs = append(tr.evs, ev)
	return ev
}

// human browses pages at a human pace for dur, each page with its assets.
func (tr *traffic) human(ip, ua string, start, dur time.Duration) {
	at := start
	for at < start+dur {
		p := fmt.Sprintf("/product/%d", tr.rng.IntN(5000))
		tr.add(at, ip, "GET", p, "", 200, ua, "https://shop.example/")
		for a := 0; a < 6; a++ {
			tr.add(at+time.Duration(50+tr.rng.IntN(400))*time.Millisecond, ip, "GET", fmt.Sprintf("/static/app%d.js", a), "", 200, ua, "https://shop.example"+p)
		}
		at += time.Duration(8+tr.rng.IntN(30)) * time.Second
	}
}

// fast sends page requests without assets at rate per second.
func (tr *traffic) fast(ip, ua string, start, dur time.Duration, rate float64) {
	step := time.Duration(float64(time.Second) / rate)
	for at := start; at < start+dur; at += step {
		tr.add(at, ip, "GET", fmt.Sprintf("/product/%d", tr.rng.IntN(100000)), "", 200, ua, "")
	}
}

// sorted returns the events in event-time order.
func (tr *traffic) sorted() []*eventpb.RequestEvent {
	sort.SliceStable(tr.evs, func(i, j int) bool { return tr.evs[i].TimeUnixNano < tr.evs[j].TimeUnixNano })
	return tr.evs
}

// maxScores runs the events through a fresh engine and returns every
// subject's highest score and the reasons it had then.
func maxScores(evs []*eventpb.RequestEvent, opts ...Option) (map[string]float64, map[string][]string) {
	e := NewEngine(testConfig(), opts...)
	best := map[string]float64{}
	why := map[string][]string{}
	var dst []*eventpb.Score
	for _, ev := range evs {
		dst = e.Process(ev, dst[:0])
		for _, s := range dst {
			if s.Score >= best[s.Subject] {
				best[s.Subject] = s.Score
				why[s.Subject] = s.Reasons
			}
		}
	}
	return best, why
}
