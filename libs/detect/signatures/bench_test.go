package signatures

import (
	"fmt"
	"testing"
)

// BenchmarkMatch: one shop request (a product page or one of its assets,
// browser user agent and referer) through the shipped set.
func BenchmarkMatch(b *testing.B) {
	m := Shipped().NewMatcher()
	reqs := make([]Request, 4096)
	for i := range reqs {
		p := fmt.Sprintf("/product/%d", i*7919%50000)
		if i%6 != 0 {
			p = fmt.Sprintf("/static/img/%d.webp", i%500)
		}
		reqs[i] = Request{Method: "GET", Path: p, Protocol: "HTTP/2.0",
			UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
			Referer:   "https://shop.example/"}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Match(reqs[i&(len(reqs)-1)])
	}
}
