package geoip

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// realLogAddrs are the client addresses of the real public logs, in log
// order (the repository's tests find them beside the checkout).
func realLogAddrs(tb testing.TB) []string {
	var out []string
	for _, name := range []string{"nginx-combined-2022.log", "apache-combined-2015.log"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "data", "real-logs", name))
		if err != nil {
			tb.Skipf("real log %s not found beside the repository (shared/data/real-logs)", name)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if f, _, ok := bytes.Cut(sc.Bytes(), []byte(" ")); ok {
				if _, err := netip.ParseAddr(string(f)); err == nil {
					out = append(out, string(f))
				}
			}
		}
	}
	return out
}

// BenchmarkEnrich: the cost per event of the country, ASN and AS
// organisation from full-size databases (about 500,000 networks each; see
// fullsize_test.go), target at most 300 ns, against in the same run:
// the loop alone (loop-only), the same loop with no database configured
// (unconfigured, target ~0 above the loop), and maxminddb's own tree walk
// with each record decoded once (mmdb-walk: how this package looked up
// before it compiled the databases, less its per-network answer cache).
//
//   - repeat-visitor: 5 addresses in turn;
//   - new-network-v4, -v6: 1,048,576 IPv4 addresses (262,144 IPv6), nearly
//     each in another network, so nothing is cached but in the CPU;
//   - real-log: the client addresses of the two real public logs in order.
func BenchmarkEnrich(b *testing.B) {
	cfg := fullSizeDBs(b)
	d, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	w := openWalker(b, cfg)
	var v4, v6 []string
	for _, a := range fullSizeAddrs(1<<20, false) {
		v4 = append(v4, a.String())
	}
	for _, a := range fullSizeAddrs(1<<18, true) {
		v6 = append(v6, a.String())
	}
	sets := []struct {
		name string
		ips  []string
	}{{"repeat-visitor", v4[:5]}, {"new-network-v4", v4}, {"new-network-v6", v6}, {"real-log", realLogAddrs(b)}}
	runtime.GC() // the writer's garbage is not the lookups' cost
	for _, set := range sets {
		b.Run("loop-only/"+set.name, func(b *testing.B) {
			loop(b, set.ips, func(*eventpb.RequestEvent) {})
		})
		b.Run("unconfigured/"+set.name, func(b *testing.B) {
			loop(b, set.ips, func(ev *eventpb.RequestEvent) { (*DB)(nil).Enrich(ev) })
		})
		b.Run("compiled/"+set.name, func(b *testing.B) {
			loop(b, set.ips, d.Enrich)
		})
		b.Run("mmdb-walk/"+set.name, func(b *testing.B) {
			loop(b, set.ips, func(ev *eventpb.RequestEvent) {
				a, err := netip.ParseAddr(ev.ClientIp)
				if err != nil {
					return
				}
				in := w.lookup(a)
				ev.GeoCountry, ev.Asn, ev.AsOrg = in.Country, in.ASN, in.ASOrg
			})
		})
	}
}

// loop enriches events with the addresses in turn, and reports the CPU
// time per event (cpu-ns/op) beside the wall-clock ns/op.
func loop(b *testing.B, ips []string, enrich func(*eventpb.RequestEvent)) {
	var ev eventpb.RequestEvent
	b.ReportAllocs()
	runtime.LockOSThread() // threadCPU measures this goroutine's thread
	defer runtime.UnlockOSThread()
	cpu0, ok := threadCPU()
	i := 0
	for b.Loop() {
		ev.ClientIp = ips[i]
		ev.GeoCountry, ev.Asn, ev.AsOrg = "", 0, ""
		enrich(&ev)
		if i++; i == len(ips) {
			i = 0
		}
	}
	if cpu1, ok1 := threadCPU(); ok && ok1 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkLoad: compiling both full-size databases (what start-up and
// every reload cost), and the heap the compiled tables keep.
func BenchmarkLoad(b *testing.B) {
	cfg := fullSizeDBs(b)
	var keep *DB
	var before, after runtime.MemStats
	for b.Loop() {
		keep = nil
		runtime.GC()
		runtime.ReadMemStats(&before)
		d, err := Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		keep = d
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MB")
	ix := keep.ix.Load()
	b.ReportMetric(float64(len(ix.v4)), "v4-ranges")
	b.ReportMetric(float64(len(ix.v6)), "v6-ranges")
	b.ReportMetric(float64(len(ix.answers)), "answers")
}
