package gate

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

var page = []byte(`<!doctype html><title>Shop</title><h1>Product 7</h1>` + string(make([]byte, 2048)))

// BenchmarkProxy compares, in one run, a request straight to the upstream
// (direct), through a plain httputil.ReverseProxy with the same transport
// (plain: the baseline of the 0.7x throughput target) and through
// the gate (lookup, clearance check, request event, proxy). ns/op is the
// inverse of throughput at 2 clients per core; p50-µs is the median latency.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(page) }))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	plain := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	plain.Transport = tr
	plainSrv := httptest.NewServer(plain)
	defer plainSrv.Close()
	fx := startGate(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(page) }), func(c *Config) { c.MaxIdleConnsPerHost = 64 })

	for _, c := range []struct{ name, url string }{{"direct", up.URL}, {"plain", plainSrv.URL}, {"gate", fx.url}} {
		b.Run(c.name, func(b *testing.B) { load(b, c.url+"/product/7") })
	}
}

func load(b *testing.B, u string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var all []time.Duration
	b.ReportAllocs()
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			resp, err := client.Get(u)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		all = append(all, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(all) > 0 {
		slices.Sort(all)
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	}
}

// BenchmarkChallengePage sends challenge-page requests at a fixed 1,000
// per second (open loop: a slow answer does not slow the sender) to the
// gate and reports the latency's p99 (target: 5 ms). Run it with
// -benchtime 2000x (two seconds).
func BenchmarkChallengePage(b *testing.B) {
	fx := startGate(b, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
	paced(b, fx.url+"/.bulwark/challenge?return=%2Fcart", 1000)
}

func paced(b *testing.B, u string, perSecond int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("User-Agent", browserUA)
			req.Header.Set("Accept", "text/html")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
			}
			lat[i] = time.Since(start)
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}
