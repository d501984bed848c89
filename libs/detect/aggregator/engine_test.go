package aggregator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

func testConfig() scoring.Config { return scoring.DefaultConfig() }

// TestBehaviours checks who scores how high: each case is one kind of client
// mixed into a background of ordinary people, over simulated minutes.
func TestBehaviours(t *testing.T) {
	f := func(name, subj string, lo, hi float64, gen func(tr *traffic)) {
		t.Helper()
		tr := newTraffic(7)
		for i := 0; i < 20; i++ { // background: people on their own IPs
			tr.human(fmt.Sprintf("198.51.100.%d", i+1), chromeUA, time.Duration(i)*time.Second, 10*time.Minute)
		}
		gen(tr)
		best, why := maxScores(tr.sorted())
		got := best[subj]
		if got < lo || got > hi {
			t.Errorf("%s: %s max score %.1f, want %.0f..%.0f (reasons %v)", name, subj, got, lo, hi, why[subj])
		}
		for s, v := range best {
			if (strings.HasPrefix(s, "ip:198.51.100.") || strings.HasPrefix(s, "ip:192.0.2.") || strings.HasPrefix(s, "net:198.51.100.")) && v >= 50 {
				t.Errorf("%s: person %s scored %.1f (%v)", name, s, v, why[s])
			}
		}
		for _, ev := range tr.evs { // the sessions of people, too
			if strings.HasPrefix(ev.ClientIp, "198.51.100.") || strings.HasPrefix(ev.ClientIp, "192.0.2.") {
				if s := "session:" + SessionID(ev); best[s] >= 50 {
					t.Errorf("%s: session of a person %s scored %.1f (%v)", name, s, best[s], why[s])
				}
			}
		}
	}
	f("one person", "ip:198.51.100.1", 0, 49, func(tr *traffic) {})
	f("a person whose browser has every asset cached", "ip:192.0.2.20", 0, 49, func(tr *traffic) {
		at := time.Duration(0)
		for i := 0; i < 30; i++ {
			tr.add(at, "192.0.2.20", "GET", fmt.Sprintf("/product/%d", tr.rng.IntN(5000)), "", 200, chromeUA, "https://shop.example/")
			at += time.Duration(8+tr.rng.IntN(30)) * time.Second
		}
	})
	f("NAT of people", "ip:192.0.2.10", 0, 49, func(tr *traffic) {
		for i := 0; i < 60; i++ {
			ua := fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/%d.0", 100+i)
			tr.human("192.0.2.10", ua, time.Duration(i)*3*time.Second, 10*time.Minute)
		}
	})
	f("NAT net", "net:192.0.2.0/24", 0, 49, func(tr *traffic) {
		for i := 0; i < 60; i++ {
			ua := fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/%d.0", 100+i)
			tr.human("192.0.2.10", ua, time.Duration(i)*3*time.Second, 10*time.Minute)
		}
	})
	f("fast client", "ip:203.0.113.7", 90, 100, func(tr *traffic) {
		tr.fast("203.0.113.7", chromeUA, time.Minute, 3*time.Minute, 25)
	})
	f("fast client session", "session:"+SessionID(&eventpb.RequestEvent{ClientIp: "203.0.113.7", UserAgent: chromeUA}), 90, 100, func(tr *traffic) {
		tr.fast("203.0.113.7", chromeUA, time.Minute, 3*time.Minute, 25)
	})
	f("slow enumerating scraper", "ip:203.0.113.8", 70, 100, func(tr *traffic) {
		for i := 0; i < 300; i++ {
			tr.add(time.Duration(i)*2*time.Second, "203.0.113.8", "GET", fmt.Sprintf("/product/%d", 1000+i), "", 200, chromeUA, "")
		}
	})
	f("credential stuffing", "ip:203.0.113.9", 90, 100, func(tr *traffic) {
		for i := 0; i < 120; i++ {
			tr.add(time.Duration(i)*1500*time.Millisecond, "203.0.113.9", "POST", "/login", "", 401, chromeUA, "https://shop.example/login")
		}
	})
	f("checkout bot", "ip:203.0.113.10", 90, 100, func(tr *traffic) {
		for i := 0; i < 200; i++ {
			tr.add(2*time.Minute+time.Duration(i)*300*time.Millisecond, "203.0.113.10", "POST", "/checkout", "", 200, chromeUA, "https://shop.example/cart")
		}
	})
	f("probe", "ip:203.0.113.11", 70, 100, func(tr *traffic) {
		for i, p := range []string{"/.env", "/.git/config", "/wp-login.php", "/phpmyadmin/", "/admin.php", "/config.php", "/backup.zip", "/.aws/credentials", "/x1", "/x2", "/x3", "/x4"} {
			tr.add(time.Duration(i)*700*time.Millisecond, "203.0.113.11", "GET", p, "", 404, chromeUA, "")
		}
	})
	f("tool UA", "ip:203.0.113.12", 70, 100, func(tr *traffic) {
		for i := 0; i < 30; i++ {
			tr.add(time.Duration(i)*3*time.Second, "203.0.113.12", "GET", "/api/products", "", 200, "python-requests/2.31.0", "")
		}
	})
	f("headless", "ip:203.0.113.13", 70, 100, func(tr *traffic) {
		tr.human("203.0.113.13", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", 0, 5*time.Minute)
	})
	f("empty UA", "ip:203.0.113.14", 70, 100, func(tr *traffic) {
		for i := 0; i < 20; i++ {
			tr.add(time.Duration(i)*4*time.Second, "203.0.113.14", "GET", fmt.Sprintf("/c/%d", i), "", 200, "", "")
		}
	})
	f("proxy pool over a /24", "net:203.0.114.0/24", 90, 100, func(tr *traffic) {
		for i := 0; i < 40; i++ {
			ip := fmt.Sprintf("203.0.114.%d", i+1)
			for j := 0; j < 4; j++ {
				tr.add(time.Duration(i*7+j*40)*time.Second, ip, "GET", fmt.Sprintf("/product/%d", tr.rng.IntN(100000)), "", 200, chromeUA, "")
			}
		}
	})
	f("proxy pool member stays low alone", "ip:203.0.114.5", 0, 69, func(tr *traffic) {
		for i := 0; i < 40; i++ {
			ip := fmt.Sprintf("203.0.114.%d", i+1)
			for j := 0; j < 4; j++ {
				tr.add(time.Duration(i*7+j*40)*time.Second, ip, "GET", fmt.Sprintf("/product/%d", tr.rng.IntN(100000)), "", 200, chromeUA, "")
			}
		}
	})
	f("UA-rotating fast client", "ip:203.0.113.15", 70, 100, func(tr *traffic) {
		for i := 0; i < 1200; i++ {
			ua := fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0) Chrome/%d.0", 90+i%40)
			tr.add(time.Duration(i)*100*time.Millisecond, "203.0.113.15", "GET", fmt.Sprintf("/product/%d", tr.rng.IntN(100000)), "", 200, ua, "")
		}
	})
}

func TestScoreShape(t *testing.T) {
	tr := newTraffic(1)
	tr.fast("203.0.113.7", "curl/8.5.0", 0, time.Minute, 20)
	e := NewEngine(testConfig())
	var all []*eventpb.Score
	evs := tr.sorted()
	for _, ev := range evs {
		all = e.Process(ev, all)
	}
	if len(all) == 0 || len(all) > len(evs) {
		t.Fatalf("emitted %d scores for %d events: want some, on change only", len(all), len(evs))
	}
	s := all[len(all)-1]
	if s.Scorer != scoring.Name || s.Trigger == nil || s.TimeUnixNano != s.Trigger.TimeUnixNano || len(s.Reasons) == 0 || len(s.Features) == 0 {
		t.Fatalf("incomplete score: %v", s)
	}
	// the trigger is a copy: changing the event afterwards does not change it
	evs[len(evs)-1].Path = "/changed"
	for _, sc := range all {
		if sc.Trigger.Path == "/changed" {
			t.Fatal("trigger aliases the event")
		}
	}
	if all[0].Score >= all[len(all)-1].Score && all[len(all)-1].Score < 90 {
		t.Fatalf("score did not rise: first %.1f last %.1f", all[0].Score, all[len(all)-1].Score)
	}
}

func TestLateEvents(t *testing.T) {
	e := NewEngine(testConfig(), WithAllowedLateness(5*time.Second))
	ev := func(at time.Duration) *eventpb.RequestEvent {
		return &eventpb.RequestEvent{TimeUnixNano: t0.Add(at).UnixNano(), ClientIp: "192.0.2.1", Method: "GET", Path: "/", Status: 200, UserAgent: chromeUA}
	}
	e.Process(ev(10*time.Second), nil)
	e.Process(ev(6*time.Second), nil) // within lateness: merged
	e.Process(ev(4*time.Second), nil) // beyond: dropped and counted
	st := e.Stats()
	if st.Events != 2 || st.Late != 1 {
		t.Fatalf("events %d late %d, want 2 and 1", st.Events, st.Late)
	}
	e.Process(&eventpb.RequestEvent{TimeUnixNano: 1, ClientIp: "not-an-ip"}, nil)
	if e.Stats().BadEvents != 1 {
		t.Fatal("bad event not counted")
	}
}

func TestExpiryAndIdleFlush(t *testing.T) {
	tr := newTraffic(3)
	tr.fast("203.0.113.7", chromeUA, 0, time.Minute, 30)
	tr.human("198.51.100.1", chromeUA, 0, 3*time.Hour) // keeps event time moving
	e := NewEngine(testConfig())
	var out []*eventpb.Score
	for _, ev := range tr.sorted() {
		out = e.Process(ev, out)
	}
	var flushed bool
	var high bool
	for _, s := range out {
		if s.Subject == "ip:203.0.113.7" {
			if s.Score >= 90 {
				high = true
			}
			if high && s.Score < 50 && s.TimeUnixNano > t0.Add(time.Minute).UnixNano() {
				flushed = true
			}
		}
	}
	if !high || !flushed {
		t.Fatalf("fast client: high %v, decayed score flushed when idle %v", high, flushed)
	}
	if st := e.Stats(); st.IPs != 1 || st.Expired == 0 {
		t.Fatalf("after 3 h only the person's IP must remain: %+v", st)
	}
}

// TestDeterministic: the same events give the same scores byte for byte, and
// so does a run stopped half-way whose state is carried over through
// Changes/Load into a new engine.
func TestDeterministic(t *testing.T) {
	tr := newTraffic(11)
	for i := 0; i < 10; i++ {
		tr.human(fmt.Sprintf("198.51.100.%d", i), chromeUA, 0, 20*time.Minute)
	}
	tr.fast("203.0.113.7", "curl/8", 2*time.Minute, 2*time.Minute, 15)
	evs := tr.sorted()
	run := func(split int) []byte {
		e := NewEngine(testConfig(), WithIdleTimeout(5*time.Minute)) // expiry happens too
		e.TrackChanges()
		var out []*eventpb.Score
		state := map[string][]byte{} // as a compacted topic keeps it
		save := func() {
			e.Changes(func(k, v []byte) {
				if v == nil {
					delete(state, string(k))
				} else {
					state[string(k)] = v
				}
			})
		}
		for i, ev := range evs {
			if i%97 == 0 {
				save() // incremental, as the service's transactions
			}
			if i == split {
				save()
				e = NewEngine(testConfig(), WithIdleTimeout(5*time.Minute))
				e.TrackChanges()
				for k, v := range state {
					if v != nil {
						if err := e.Load([]byte(k), v); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			out = e.Process(ev, out)
		}
		var b []byte
		for _, s := range out {
			m, err := proto.MarshalOptions{Deterministic: true}.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, m...)
		}
		return b
	}
	once := run(-1)
	if len(once) == 0 {
		t.Fatal("no scores")
	}
	e := NewEngine(testConfig(), WithIdleTimeout(5*time.Minute))
	for _, ev := range evs {
		e.Process(ev, nil)
	}
	if st := e.Stats(); st.Expired == 0 {
		t.Fatalf("the test must cover expiry: %+v", st)
	}
	for _, split := range []int{1, len(evs) / 3, len(evs) / 2, len(evs) - 1} {
		if got := run(split); string(got) != string(once) {
			t.Fatalf("split at %d: scores differ (%d vs %d bytes)", split, len(got), len(once))
		}
	}
}
