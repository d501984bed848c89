package aggregator

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/signatures"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// benchRecords returns encoded events like a shop's traffic: 20,000 clients
// (2% of them scripts) on 2,000 networks, each page followed within half a
// second by five of its static assets, a few user agents, in time order.
func benchRecords(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	uas := []string{chromeUA, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"}
	out := make([][]byte, 0, n)
	al := "en-US,en;q=0.9"
	for i := 0; len(out) < n; i++ {
		c := rng.IntN(20000)
		ua := uas[c%len(uas)]
		if c%50 == 0 {
			ua = "curl/8.5.0" // a few scripts among the people
		}
		at := t0.Add(time.Duration(i) * time.Millisecond)
		page := fmt.Sprintf("/product/%d", rng.IntN(50000))
		for j := 0; j < 6 && len(out) < n; j++ {
			path := page
			if j > 0 {
				path = fmt.Sprintf("/static/img/%d.webp", rng.IntN(500))
			}
			ev := &eventpb.RequestEvent{
				TimeUnixNano: at.Add(time.Duration(j) * 80 * time.Millisecond).UnixNano(),
				ClientIp:     fmt.Sprintf("10.%d.%d.%d", c/2000, (c/10)%200, c%10+1),
				Method:       "GET", Host: "shop.example", Path: path, Protocol: "HTTP/2.0", Status: 200,
				ResponseBytes: 5120, UserAgent: ua, Referer: "https://shop.example/",
				AcceptLanguage: &al, Source: "/var/log/nginx/access.log", SourceOffset: int64(len(out)) * 200, Format: "nginx",
			}
			b, err := proto.Marshal(ev)
			if err != nil {
				panic(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// reportRates reports events per wall second and per CPU second (the
// process's CPU time, garbage collection included: events/s per core).
func reportRates(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
}

// BenchmarkDecode is the baseline: only decoding the records.
func BenchmarkDecode(b *testing.B) {
	recs := benchRecords(1 << 16)
	ev := &eventpb.RequestEvent{}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := proto.Unmarshal(recs[i&(len(recs)-1)], ev); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpu0)
}

// BenchmarkEngine decodes the same records and runs them through the engine
// (windows, features, scores, emission on change).
func BenchmarkEngine(b *testing.B) {
	benchEngine(b, NewEngine(testConfig()))
}

// BenchmarkEngineSignatures is BenchmarkEngine without ("off") and with
// ("shipped") the request-signature layer, in the same run: the issue's
// target is shipped >= 0.7x off in events/cpu-s.
func BenchmarkEngineSignatures(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchEngine(b, NewEngine(testConfig(), WithSignatures(nil))) })
	b.Run("shipped", func(b *testing.B) {
		benchEngine(b, NewEngine(testConfig(), WithSignatures(signatures.NewHolder(signatures.Shipped()))))
	})
}

func benchEngine(b *testing.B, e *Engine) {
	recs := benchRecords(1 << 16)
	ev := &eventpb.RequestEvent{}
	var dst []*eventpb.Score
	step := int64(len(recs)) * int64(time.Millisecond) // one lap of event time, roughly
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := proto.Unmarshal(recs[i&(len(recs)-1)], ev); err != nil {
			b.Fatal(err)
		}
		ev.TimeUnixNano += int64(i/len(recs)) * step // keep event time moving on each lap
		dst = e.Process(ev, dst[:0])
	}
	reportRates(b, cpu0)
	b.ReportMetric(float64(e.Stats().Emitted)/float64(b.N), "scores/event")
}

// BenchmarkMemoryPerIP measures the heap held per active client IP with
// 1,000,000 active IPs, each with its derived session and its network:
// "dense" puts 256 IPs in each /24 (an ISP's customers), "spread" every IP in
// a /24 of its own (the worst case: one net: state per IP).
func BenchmarkMemoryPerIP(b *testing.B) {
	const n = 1_000_000
	for _, layout := range []struct {
		name string
		addr func(j int) netip.Addr
	}{
		{"dense", func(j int) netip.Addr {
			return netip.AddrFrom4([4]byte{byte(11 + j>>24), byte(j >> 16), byte(j >> 8), byte(j)})
		}},
		{"spread", func(j int) netip.Addr { return netip.AddrFrom4([4]byte{byte(11 + j>>16), byte(j >> 8), byte(j), 1}) }},
	} {
		b.Run(layout.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				e := NewEngine(testConfig())
				ev := &eventpb.RequestEvent{Method: "GET", Path: "/", Status: 200, UserAgent: chromeUA}
				for j := 0; j < n; j++ {
					ev.ClientIp = layout.addr(j).String()
					ev.TimeUnixNano = t0.Add(time.Duration(j) * time.Microsecond).UnixNano()
					e.Process(ev, nil)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				st := e.Stats()
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/ip")
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(st.IPs+st.Sessions+st.Nets), "B/subject")
				runtime.KeepAlive(e)
			}
		})
	}
}
