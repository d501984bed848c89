package logparse

import (
	"net/netip"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"google.golang.org/protobuf/proto"
)

// The fuzz targets check what the shipper relies on: Parse never panics,
// every line is an event or a dead letter (every error is one of the
// sentinels), and an accepted line gives an event that marshals (proto3
// demands valid UTF-8, whatever bytes the line had) with a canonical client
// IP, or none and a session id (an anonymised log).
// Seeds: a sample of the real logs (rendered per format) plus nasty lines;
// the corpus the fuzzer grew is kept in testdata/fuzz/<target>.

func fuzzSeeds(f *testing.F, format Format, nasty []string) {
	for _, s := range nasty {
		f.Add([]byte(s))
	}
	if _, ok := findRealLog("nginx-combined-2022.log"); !ok {
		return // the samples are also kept in testdata/fuzz
	}
	lines := corpusFor(f, format)
	step := len(lines)/40 + 1
	for i := 0; i < len(lines); i += step {
		f.Add(lines[i])
	}
	// Every real line that is not a plain HTTP request (scanners, TLS junk).
	if format == FormatNginx {
		p := mustNew(f, FormatNginx, Options{})
		var ev eventpb.RequestEvent
		n := 0
		for _, l := range lines {
			if p.Parse(l, &ev) == nil && ev.Method == "" && n < 40 {
				f.Add(l)
				n++
			}
		}
	}
}

func fuzzParse(t *testing.T, p Parser, line []byte) {
	var ev eventpb.RequestEvent
	err := p.Parse(line, &ev)
	if err != nil {
		if Reason(err) == "other" {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		return
	}
	checkEvent(t, &ev)
	// An anonymised line is named by its session alone (checkEvent wants one).
	if ev.ClientIp != "" {
		a, perr := netip.ParseAddr(ev.ClientIp)
		if perr != nil || a.String() != ev.ClientIp || a.Zone() != "" || a.Is4In6() {
			t.Fatalf("client IP %q is not a canonical address", ev.ClientIp)
		}
	}
	if _, err := proto.Marshal(&ev); err != nil {
		t.Fatalf("event does not marshal: %v", err)
	}
	if ev.TimeUnixNano < 0 {
		t.Fatalf("negative time %d", ev.TimeUnixNano)
	}
}

func fuzzResolver() *clientip.Resolver {
	return clientip.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")})
}

func FuzzNginx(f *testing.F) {
	fuzzSeeds(f, FormatNginx, []string{
		`10.0.0.1 - - [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" 0.001 "198.51.100.1, 10.0.0.2"`,
		`unix: - - [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" 0.001 "unknown, [::1]:80"`,
		`::1 - - [29/Feb/2024:00:00:00 -1200] "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" 400 157 "-" "-"`,
		`1.2.3.4 - - [31/Feb/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`1.2.3.4 - - [21/Nov/2026:10:00:03 +0000] "GET /\x" 200 1 "\\" "\"" "\x22"`,
		`1.2.3.4 - - [21/Nov/2026:10:00:03 +0000] "GET /\xC3\xA9\xC3 HTTP/1.1" 200 18446744073709551615 "-" "-" 99999999.999`,
		"1.2.3.4 - - [21/Nov/2026:10:00:03 +0000] \"GET / HTTP/1.1\" 200 1 \"\xff\" \"-\"",
		`fe80::1%eth0 - - [21/Nov/2026:10:00:03 +0000] "-" 000 - "-" "-"`,
		`- - - [] "" 0 0 "" ""`,
	})
	p := mustNew(f, FormatNginx, Options{ClientIP: fuzzResolver(), MaxLineBytes: 4096})
	f.Fuzz(func(t *testing.T, line []byte) { fuzzParse(t, p, line) })
}

func FuzzNginxJSON(f *testing.F) {
	fuzzSeeds(f, FormatNginxJSON, []string{
		nginxJSONLine,
		`{"msec":"1763719203.042","remote_addr":"unix:","http_x_forwarded_for":"198.51.100.1, 10.0.0.3","http_cookie":"sid=\u00e9; a"}`,
		`{"msec":1e300,"remote_addr":"1.2.3.4"}`,
		`{"time_iso8601":"2024-02-29T23:59:59.999999999999-23:59","remote_addr":"::ffff:1.2.3.4"}`,
		`{"time_local":"31/Feb/2024:00:00:00 +0000","remote_addr":"1.2.3.4"}`,
		`{"msec":"1","remote_addr":"1.2.3.4","request_uri":"\ud800\udc00?\ud800","status":"000","request":"\u0016\u0003"}`,
		`{"msec":"1","remote_addr":"1.2.3.4","session_id":{"nested":[1,{"a":null}]},"status":null}`,
		`{"a":` + string(make([]byte, 0)) + `[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}`,
	})
	p := mustNew(f, FormatNginxJSON, Options{ClientIP: fuzzResolver(), SessionCookie: "sid", MaxLineBytes: 4096})
	f.Fuzz(func(t *testing.T, line []byte) { fuzzParse(t, p, line) })
}

func FuzzCloudflare(f *testing.F) {
	fuzzSeeds(f, FormatCloudflare, []string{
		cloudflareLine,
		`{"ClientIP":"10.0.0.1","EdgeStartTimestamp":1763719203123456789,"RequestHeaders":{"x-forwarded-for":"198.51.100.1","Cookie":"sid=a"}}`,
		`{"ClientIP":"1.2.3.4","EdgeStartTimestamp":"2024-02-29T23:59:60Z"}`,
		`{"ClientIP":"1.2.3.4","EdgeStartTimestamp":9223372036854775807}`,
		`{"ClientIP":"1.2.3.4","EdgeStartTimestamp":"1e9","BotScore":1e2,"ClientASN":4294967296}`,
		`{"ClientIP":"1.2.3.4","EdgeStartTimestamp":1,"ClientCountry":"\u00e9z","Cookies":[],"RequestHeaders":"x"}`,
		`{"ClientIP":"1.2.3.4","EdgeStartTimestamp":1,"VerifiedBotCategory":null,"EdgeTimeToFirstByteMs":-1}`,
	})
	p := mustNew(f, FormatCloudflare, Options{ClientIP: fuzzResolver(), SessionCookie: "sid", MaxLineBytes: 4096})
	f.Fuzz(func(t *testing.T, line []byte) { fuzzParse(t, p, line) })
}
