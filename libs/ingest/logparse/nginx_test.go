package logparse

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

func mustNew(t testing.TB, f Format, opts Options) Parser {
	t.Helper()
	p, err := New(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ts(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

func f64(v float64) *float64 { return &v }
func str(v string) *string   { return &v }
func u32(v uint32) *uint32   { return &v }
func boolp(v bool) *bool     { return &v }

// expectParse parses line and compares the whole event with want (Format is
// filled in from the parser).
func expectParse(t *testing.T, p Parser, f Format, line string, want *eventpb.RequestEvent) {
	t.Helper()
	var ev eventpb.RequestEvent
	if err := p.Parse([]byte(line), &ev); err != nil {
		t.Fatalf("Parse(%q): %v", line, err)
	}
	checkEvent(t, &ev)
	want.Format = string(f)
	if !proto.Equal(&ev, want) {
		t.Fatalf("Parse(%q)\n got: %s\nwant: %s", line, prototext.Format(&ev), prototext.Format(want))
	}
}

func expectReject(t *testing.T, p Parser, line string, want error, inMsg string) {
	t.Helper()
	var ev eventpb.RequestEvent
	err := p.Parse([]byte(line), &ev)
	if !errors.Is(err, want) {
		t.Fatalf("Parse(%q) = %v, want %v", line, err, want)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Parse(%q) error %T is not a *ParseError", line, err)
	}
	if !strings.Contains(err.Error(), inMsg) {
		t.Fatalf("Parse(%q) error %q does not mention %q", line, err, inMsg)
	}
}

func TestNginx(t *testing.T) {
	p := mustNew(t, FormatNginx, Options{})
	f := func(line string, want *eventpb.RequestEvent) {
		t.Helper()
		expectParse(t, p, FormatNginx, line, want)
	}
	const ua = "Mozilla/5.0 (X11; Linux x86_64)"

	f(`203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] "GET /shop/item?id=4&x=1 HTTP/1.1" 200 5120 "https://example.com/" "`+ua+`"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03Z"), ClientIp: "203.0.113.7", Method: "GET",
			Path: "/shop/item", Query: "id=4&x=1", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 5120,
			Referer: "https://example.com/", UserAgent: ua})
	// Offsets, "-" values, remote user, IPv6.
	f(`2001:db8::7 - alice [29/Feb/2024:23:59:59 -0230] "POST /login HTTP/2.0" 302 0 "-" "-"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2024-03-01T02:29:59Z"), ClientIp: "2001:db8::7", Method: "POST",
			Path: "/login", Protocol: "HTTP/2.0", Status: 302})
	// $request_time appended.
	f(`203.0.113.7 - - [21/Nov/2026:10:00:03 +0100] "GET / HTTP/1.1" 404 12 "-" "curl/8.5.0" 0.042`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T09:00:03Z"), ClientIp: "203.0.113.7", Method: "GET",
			Path: "/", Protocol: "HTTP/1.1", Status: 404, ResponseBytes: 12, UserAgent: "curl/8.5.0",
			RequestTimeSeconds: f64(0.042)})
	// $request_time and "$http_x_forwarded_for" appended; no trusted proxies, so XFF is only recorded.
	f(`10.0.0.5 - - [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8.5.0" 1.500 "198.51.100.1, 10.0.0.9"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03Z"), ClientIp: "10.0.0.5", Method: "GET",
			Path: "/", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 1, UserAgent: "curl/8.5.0",
			RequestTimeSeconds: f64(1.5), ForwardedFor: "198.51.100.1, 10.0.0.9"})
	// The official image's "main" format: XFF without $request_time; "-" XFF.
	f(`10.0.0.5 - - [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8.5.0" "-"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03Z"), ClientIp: "10.0.0.5", Method: "GET",
			Path: "/", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 1, UserAgent: "curl/8.5.0"})
	// nginx escapes: UTF-8 decodes; an escaped quote decodes.
	f(`203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] "GET /caf\xC3\xA9 HTTP/1.1" 200 1 "https://b\xC3\xBCcher.example/" "say \x22hi\x22"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03Z"), ClientIp: "203.0.113.7", Method: "GET",
			Path: "/café", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 1, Referer: "https://bücher.example/",
			UserAgent: `say "hi"`})
	// Escapes that would not decode to clean UTF-8 stay as logged, and the
	// request is malformed.
	f(`203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] "GET /files/ HTTP/1.0" 200 1 "http://\xe4\xe5-\xec.\xf0\xf4/" "-"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03Z"), ClientIp: "203.0.113.7", Method: "GET",
			Path: "/files/", Protocol: "HTTP/1.0", Status: 200, ResponseBytes: 1, Referer: `http://\xe4\xe5-\xec.\xf0\xf4/`,
			Malformed: MalformedBadBytes})
	// A TLS handshake sent to a plain-HTTP port: no method, the junk kept as logged.
	f(`3.89.70.0 - - [02/Sep/2022:10:10:49 +0000] "\x16\x03\x01\x00\x02\x02P" 400 157 "-" "-"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2022-09-02T10:10:49Z"), ClientIp: "3.89.70.0",
			Path: `\x16\x03\x01\x00\x02\x02P`, Status: 400, ResponseBytes: 157, Malformed: MalformedBadBytes})
	// Raw bytes (a log written without escaping, e.g. a honeypot's): kept,
	// escaped as nginx would have, and malformed.
	f("203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] \"GET /a\xc0\xaf..%c0%af HTTP/1.0\" 404 1 \"-\" \"u\xffa\x01\"",
		&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03Z"), ClientIp: "203.0.113.7", Method: "GET",
			Path: `/a\xC0\xAF..%c0%af`, Protocol: "HTTP/1.0", Status: 404, ResponseBytes: 1, UserAgent: `u\xFFa\x01`,
			Malformed: MalformedBadBytes})
	// A NUL in the method (issue 13): no method, malformed.
	f("203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] \"G\x00T /x HTTP/2.0\" 400 1 \"-\" \"-\"",
		&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03Z"), ClientIp: "203.0.113.7",
			Path: `G\x00T /x HTTP/2.0`, Status: 400, ResponseBytes: 1, Malformed: MalformedBadBytes})
	// Empty and "-" request lines, Apache's "-" byte count, status 000.
	f(`76.72.172.0 - - [03/Sep/2022:02:43:16 +0000] "" 400 0 "-" "-"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2022-09-03T02:43:16Z"), ClientIp: "76.72.172.0", Status: 400})
	f(`76.72.172.0 - - [03/Sep/2022:02:43:16 +0000] "-" 408 - "-" "-"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2022-09-03T02:43:16Z"), ClientIp: "76.72.172.0", Status: 408})
	f(`76.72.172.0 - - [03/Sep/2022:02:43:16 +0000] "GET / HTTP/1.1" 000 0 "-" "-"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2022-09-03T02:43:16Z"), ClientIp: "76.72.172.0", Method: "GET",
			Path: "/", Protocol: "HTTP/1.1"})
	// A lone word, HTTP/0.9 without protocol, absolute-form target.
	f(`192.241.213.0 - - [02/Sep/2022:20:01:52 +0000] "SSH-2.0-Go" 400 157 "-" "-"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2022-09-02T20:01:52Z"), ClientIp: "192.241.213.0",
			Path: "SSH-2.0-Go", Status: 400, ResponseBytes: 157, Malformed: MalformedBadRequestLine})
	f(`192.0.2.1 - - [02/Sep/2022:20:01:52 +0000] "GET /old" 200 3 "-" "-"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2022-09-02T20:01:52Z"), ClientIp: "192.0.2.1", Method: "GET",
			Path: "/old", Status: 200, ResponseBytes: 3})
	f(`192.0.2.1 - - [02/Sep/2022:20:01:52 +0000] "CONNECT example.com:443 HTTP/1.1" 400 3 "-" "-"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2022-09-02T20:01:52Z"), ClientIp: "192.0.2.1", Method: "CONNECT",
			Path: "example.com:443", Protocol: "HTTP/1.1", Status: 400, ResponseBytes: 3})
	// A stray CR from a CRLF file.
	f("192.0.2.1 - - [02/Sep/2022:20:01:52 +0000] \"GET / HTTP/1.1\" 200 3 \"-\" \"-\"\r",
		&eventpb.RequestEvent{TimeUnixNano: ts("2022-09-02T20:01:52Z"), ClientIp: "192.0.2.1", Method: "GET",
			Path: "/", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 3})
	// Apache-style \" escapes.
	f(`192.0.2.1 - - [02/Sep/2022:20:01:52 +0000] "GET / HTTP/1.1" 200 3 "-" "a \"quoted\" agent"`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2022-09-02T20:01:52Z"), ClientIp: "192.0.2.1", Method: "GET",
			Path: "/", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 3, UserAgent: `a "quoted" agent`})
}

func TestNginxTrustedProxies(t *testing.T) {
	trusted, err := clientip.ParseCIDRs("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	p := mustNew(t, FormatNginx, Options{ClientIP: clientip.New(trusted)})
	base := &eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03Z"), Method: "GET", Path: "/",
		Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 1, UserAgent: "curl/8.5.0"}
	f := func(remote, xff, wantClient, wantRemote string) {
		t.Helper()
		want := proto.Clone(base).(*eventpb.RequestEvent)
		want.ClientIp, want.RemoteAddr, want.ForwardedFor = wantClient, wantRemote, xff
		if xff == "-" {
			want.ForwardedFor = ""
		}
		expectParse(t, p, FormatNginx,
			remote+` - - [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8.5.0" 0.001 "`+xff+`"`,
			func() *eventpb.RequestEvent { want.RequestTimeSeconds = f64(0.001); return want }())
	}
	f("10.0.0.5", "1.1.1.1, 198.51.100.1, 10.0.0.9", "198.51.100.1", "10.0.0.5")
	f("10.0.0.5", "-", "10.0.0.5", "")
	f("203.0.113.7", "198.51.100.1", "203.0.113.7", "")
	f("10.0.0.5", "[2001:db8::1]:443", "2001:db8::1", "10.0.0.5")
	f("unix:", "198.51.100.1", "198.51.100.1", "unix:")
	f("::ffff:10.0.0.5", "198.51.100.1", "198.51.100.1", "::ffff:10.0.0.5")
}

func TestNginxRejects(t *testing.T) {
	p := mustNew(t, FormatNginx, Options{MaxLineBytes: 300})
	f := func(line string, want error, inMsg string) {
		t.Helper()
		expectReject(t, p, line, want, inMsg)
	}
	ok := `203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"`
	var ev eventpb.RequestEvent
	if err := p.Parse([]byte(ok), &ev); err != nil {
		t.Fatal(err)
	}
	f("", ErrBadSyntax, "remote_addr")
	f("garbage", ErrBadSyntax, "remote_addr")
	f(strings.Replace(ok, "203.0.113.7", "999.1.1.1", 1), ErrBadIP, "remote_addr")
	f(strings.Replace(ok, "203.0.113.7", "unix:", 1), ErrBadIP, "Unix-socket")
	f(strings.Replace(ok, "21/Nov", "31/Feb", 1), ErrBadTime, "no such day")
	f(strings.Replace(ok, "21/Nov/2026", "29/Feb/2023", 1), ErrBadTime, "no such day")
	f(strings.Replace(ok, "10:00:03", "24:00:03", 1), ErrBadTime, "hour")
	f(strings.Replace(ok, "10:00:03", "10:60:03", 1), ErrBadTime, "minute")
	f(strings.Replace(ok, "Nov", "Nox", 1), ErrBadTime, "month")
	f(strings.Replace(ok, "+0000", "+0099", 1), ErrBadTime, "offset")
	f(strings.Replace(ok, "2026", "0026", 1), ErrBadTime, "year")
	f(strings.Replace(ok, "21/Nov/2026:10:00:03", "21/Nov/2026T10:00:03", 1), ErrBadSyntax, "time_local")
	f(strings.Replace(ok, "] ", "]", 1), ErrBadSyntax, "request")
	f(strings.Replace(ok, " 200 ", " 2000 ", 1), ErrBadSyntax, "status")
	f(strings.Replace(ok, " 200 ", " OK ", 1), ErrBadSyntax, "status")
	f(strings.Replace(ok, " 1 ", " -1 ", 1), ErrBadSyntax, "body_bytes_sent")
	f(strings.Replace(ok, " 1 ", " 99999999999999999999999 ", 1), ErrBadSyntax, "body_bytes_sent")
	f(strings.TrimSuffix(ok, `"`), ErrBadSyntax, "unterminated")
	f(ok+" 0.1 0.2", ErrBadSyntax, "http_x_forwarded_for")
	f(ok+" abc", ErrBadSyntax, "request_time")
	f(ok+` "-" extra`, ErrBadSyntax, "after the last field")
	f(ok+" ", ErrBadSyntax, "")
	f(strings.Replace(ok, "[21", "[\xff21", 1), ErrBadSyntax, "time_local")
	f(strings.Replace(ok, "203.0.113.7", "203.0.\xff.7", 1), ErrBadIP, "remote_addr")
	f(ok+strings.Repeat("x", 300), ErrTooLong, "column 301")
}

func TestReason(t *testing.T) {
	f := func(err error, want string) {
		t.Helper()
		if got := Reason(err); got != want {
			t.Fatalf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
	f(perr(FormatNginx, ErrBadSyntax, "x", 1, ""), "bad_syntax")
	f(perr(FormatNginx, ErrBadUTF8, "", 1, ""), "bad_utf8")
	f(perr(FormatNginx, ErrBadTime, "", 1, ""), "bad_time")
	f(perr(FormatNginx, ErrTooLong, "", 1, ""), "too_long")
	f(perr(FormatNginx, ErrBadIP, "", 1, ""), "bad_ip")
	f(errors.New("other"), "other")
	if got := perr(FormatCloudflare, ErrBadTime, "EdgeStartTimestamp", 0, "year out of range").Error(); got != "cloudflare: bad time in EdgeStartTimestamp: year out of range" {
		t.Fatalf("message %q", got)
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := ParseFormat("iis"); err == nil {
		t.Fatal("ParseFormat(iis) succeeded")
	}
	for _, f := range Formats() {
		if g, err := ParseFormat(string(f)); err != nil || g != f {
			t.Fatalf("ParseFormat(%s) = %v, %v", f, g, err)
		}
	}
	if _, err := New(FormatNginx, Options{SessionCookie: "sid"}); err == nil {
		t.Fatal("nginx accepted a session cookie")
	}
	if _, err := New(FormatNginx, Options{MaxLineBytes: -1}); err == nil {
		t.Fatal("negative MaxLineBytes accepted")
	}
	if _, err := New("iis", Options{}); err == nil {
		t.Fatal("unknown format accepted")
	}
}

// TestAliasing shows the documented lifetime: strings stay valid until the
// next Parse, and the marshalled bytes are independent of it.
func TestAliasing(t *testing.T) {
	p := mustNew(t, FormatNginx, Options{})
	var ev eventpb.RequestEvent
	line := []byte(`203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] "GET /caf\xC3\xA9 HTTP/1.1" 200 1 "-" "ua" 0.5`)
	if err := p.Parse(line, &ev); err != nil {
		t.Fatal(err)
	}
	b, err := proto.MarshalOptions{}.MarshalAppend(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	var back eventpb.RequestEvent
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Path != "/café" || back.GetRequestTimeSeconds() != 0.5 || back.ClientIp != "203.0.113.7" {
		t.Fatalf("round trip: %v", &back)
	}
}

func TestClone(t *testing.T) {
	p := mustNew(t, FormatNginx, Options{})
	var ev eventpb.RequestEvent
	line := []byte(`203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] "GET /caf\xC3\xA9 HTTP/1.1" 200 1 "-" "ua" 0.5`)
	if err := p.Parse(line, &ev); err != nil {
		t.Fatal(err)
	}
	kept := Clone(&ev)
	for i := range line {
		line[i] = 'z'
	}
	other := []byte(`198.51.100.9 - - [21/Nov/2026:10:00:04 +0000] "POST /other HTTP/1.1" 500 2 "-" "ub" 1.5`)
	if err := p.Parse(other, &ev); err != nil {
		t.Fatal(err)
	}
	if kept.Path != "/café" || kept.ClientIp != "203.0.113.7" || kept.UserAgent != "ua" || kept.GetRequestTimeSeconds() != 0.5 {
		t.Fatalf("clone changed with the parser: %v", kept)
	}
}
