package logparse

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"google.golang.org/protobuf/proto"
)

// sourceFixtures are example lines from each provider's documentation
// (and lines in the same documented layout covering IPv6, absent values
// and errors), in testdata/sources/<format>.log.
func sourceFixtures(t testing.TB, f Format) [][]byte {
	t.Helper()
	return readLines(t, filepath.Join("testdata", "sources", string(f)+".log"))
}

func sourceFormats() []Format {
	return []Format{FormatCaddy, FormatTraefik, FormatTraefikJSON, FormatHAProxy, FormatEnvoy,
		FormatALB, FormatCloudFront, FormatGCPLB, FormatFastly}
}

// TestSourceFixtures: every documented line parses (header lines are
// headers), into an event that marshals.
func TestSourceFixtures(t *testing.T) {
	for _, f := range sourceFormats() {
		t.Run(string(f), func(t *testing.T) {
			p := mustNew(t, f, Options{})
			parsed := 0
			for i, line := range sourceFixtures(t, f) {
				var ev eventpb.RequestEvent
				err := p.Parse(line, &ev)
				if errors.Is(err, ErrHeader) {
					continue
				}
				if err != nil {
					t.Fatalf("line %d: %v\n%s", i+1, err, line)
				}
				checkEvent(t, &ev)
				if ev.TimeUnixNano <= 0 || ev.Format != string(f) {
					t.Fatalf("line %d: time %d, format %q", i+1, ev.TimeUnixNano, ev.Format)
				}
				if _, err := proto.Marshal(&ev); err != nil {
					t.Fatal(err)
				}
				parsed++
			}
			if parsed < 2 {
				t.Fatalf("only %d fixture lines", parsed)
			}
		})
	}
}

// TestSourceEvents compares whole events for one documented line per format.
func TestSourceEvents(t *testing.T) {
	for _, tc := range []struct {
		f    Format
		line int // 1-based line of the fixture
		opts Options
		want *eventpb.RequestEvent
	}{
		{FormatCaddy, 1, Options{}, &eventpb.RequestEvent{TimeUnixNano: 1646861401524102400, ClientIp: "127.0.0.1",
			Method: "GET", Host: "localhost", Path: "/", Protocol: "HTTP/2.0", Status: 200, ResponseBytes: 10900,
			RequestTimeSeconds: f64(0.000929675), UserAgent: "curl/7.82.0"}},
		{FormatCaddy, 2, Options{}, &eventpb.RequestEvent{TimeUnixNano: 1700000000250000000, ClientIp: "10.0.0.2",
			Method: "POST", Host: "shop.example", Path: "/login", Query: "next=%2Fcart", Protocol: "HTTP/1.1", Status: 302,
			RequestTimeSeconds: f64(0.012), UserAgent: "python-requests/2.31.0", Referer: "https://shop.example/login",
			ForwardedFor: "198.51.100.23"}},
		{FormatTraefik, 1, Options{}, &eventpb.RequestEvent{TimeUnixNano: ts("2016-11-13T10:20:45Z"), ClientIp: "192.168.2.10",
			Method: "GET", Path: "/api", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 125, UserAgent: "curl/7.47.0",
			RequestTimeSeconds: f64(0.003)}},
		{FormatTraefikJSON, 1, Options{}, &eventpb.RequestEvent{TimeUnixNano: ts("2024-05-01T10:20:45.123456789Z"), ClientIp: "192.168.1.10",
			Method: "GET", Host: "example.com", Path: "/api", Query: "x=1", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 125,
			RequestTimeSeconds: f64(0.003123456), UserAgent: "curl/8.5.0", TlsVersion: "1.3", TlsCipher: "TLS_AES_128_GCM_SHA256"}},
		{FormatHAProxy, 1, Options{}, &eventpb.RequestEvent{TimeUnixNano: ts("2009-02-06T12:14:14.655Z"), ClientIp: "10.0.1.2",
			Method: "GET", Path: "/index.html", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 2750, RequestTimeSeconds: f64(0.109)}},
		{FormatHAProxy, 3, Options{}, &eventpb.RequestEvent{TimeUnixNano: ts("2009-02-06T12:12:51.443Z"), ClientIp: "10.0.1.2",
			Path: "<BADREQ>", RequestTimeSeconds: f64(8.49)}},
		{FormatEnvoy, 1, Options{}, &eventpb.RequestEvent{TimeUnixNano: ts("2016-04-15T20:17:00.310Z"), ClientIp: "10.0.35.28",
			Method: "POST", Host: "locations", Path: "/api/v1/locations", Protocol: "HTTP/2", Status: 204, RequestTimeSeconds: f64(0.226),
			UserAgent: "nsq2http"}},
		{FormatEnvoy, 2, Options{}, &eventpb.RequestEvent{TimeUnixNano: ts("2024-05-01T10:20:45.001Z"), ClientIp: "10.0.0.5",
			Method: "GET", Host: "shop.example", Path: "/products", Query: "page=2", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 5120,
			RequestTimeSeconds: f64(0.012), UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", ForwardedFor: "198.51.100.7"}},
		{FormatALB, 2, Options{}, &eventpb.RequestEvent{TimeUnixNano: ts("2018-07-02T22:23:00.186641Z"), ClientIp: "192.168.131.39",
			Method: "GET", Host: "www.example.com", Path: "/", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 57,
			RequestTimeSeconds: f64(0.048), UserAgent: "curl/7.46.0", TlsVersion: "TLSv1.2", TlsCipher: "ECDHE-RSA-AES128-GCM-SHA256"}},
		{FormatALB, 4, Options{}, &eventpb.RequestEvent{TimeUnixNano: ts("2018-07-02T22:23:00.186641Z"), ClientIp: "192.168.131.39",
			Method: "POST", Host: "www.example.com", Path: "/checkout", Query: "step=2", Protocol: "HTTP/1.1", Status: 460,
			UserAgent: "Mozilla/5.0", TlsVersion: "TLSv1.2", TlsCipher: "ECDHE-RSA-AES128-GCM-SHA256"}},
		{FormatCloudFront, 3, Options{}, &eventpb.RequestEvent{TimeUnixNano: ts("2019-12-04T21:02:31Z"), ClientIp: "192.0.2.100",
			Method: "GET", Host: "d111111abcdef8.cloudfront.net", Path: "/index.html", Protocol: "HTTP/2.0", Status: 200, ResponseBytes: 392,
			RequestTimeSeconds: f64(0.001), TlsVersion: "TLSv1.2", TlsCipher: "ECDHE-RSA-AES128-GCM-SHA256",
			UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36"}},
		{FormatCloudFront, 5, Options{SessionCookie: "sid"}, &eventpb.RequestEvent{TimeUnixNano: ts("2019-12-13T22:36:27Z"), ClientIp: "2001:db8:1::7",
			Method: "POST", Host: "www.example.com", Path: "/api/login", Query: "next=%2Fcart", Protocol: "HTTP/1.1", Status: 403, ResponseBytes: 900,
			RequestTimeSeconds: f64(0.002), TlsVersion: "TLSv1.3", TlsCipher: "TLS_AES_128_GCM_SHA256", UserAgent: "curl/7.64.1",
			Referer: "https://www.example.com/", SessionId: "abc123"}},
		{FormatGCPLB, 1, Options{}, &eventpb.RequestEvent{TimeUnixNano: ts("2024-05-01T10:20:45.123456Z"), ClientIp: "203.0.113.5",
			Method: "GET", Host: "www.example.com", Path: "/index.html", Query: "lang=en", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 1234,
			RequestTimeSeconds: f64(0.031262), UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", Referer: "https://www.example.com/"}},
		{FormatFastly, 2, Options{}, &eventpb.RequestEvent{TimeUnixNano: ts("2024-05-01T10:20:46Z"), ClientIp: "2001:db8::5",
			Method: "POST", Host: "www.example.com", Path: "/login", Protocol: "HTTP/1.1", Status: 403, UserAgent: "curl/8.5.0"}},
	} {
		p := mustNew(t, tc.f, tc.opts)
		t.Run(string(tc.f), func(t *testing.T) {
			expectParse(t, p, tc.f, string(sourceFixtures(t, tc.f)[tc.line-1]), tc.want)
		})
	}
}

func TestSourcesZeroAlloc(t *testing.T) {
	for _, f := range sourceFormats() {
		lines := sourceFixtures(t, f)
		p := mustNew(t, f, Options{})
		var ev eventpb.RequestEvent
		i := 0
		allocs := testing.AllocsPerRun(100, func() {
			_ = p.Parse(lines[i%len(lines)], &ev)
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: %.2f allocations per line", f, allocs)
		}
	}
}
