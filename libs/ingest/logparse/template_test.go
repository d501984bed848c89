package logparse

import (
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

func TestCustomNginx(t *testing.T) {
	const ua = "Mozilla/5.0 (X11; Linux x86_64)"
	for _, tc := range []struct {
		name, format string
		opts         Options
		line         string
		want         *eventpb.RequestEvent
	}{
		{"host in front, times in the middle, session after the referer",
			`$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time $upstream_response_time "$http_referer" "$sid" "$http_user_agent"`,
			Options{SessionField: "sid"},
			`shop.example 203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] "GET /cart?x=1 HTTP/2.0" 200 512 0.042 0.040, 0.001 "https://shop.example/" "s-123" "` + ua + `"`,
			&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03Z"), ClientIp: "203.0.113.7", Host: "shop.example",
				Method: "GET", Path: "/cart", Query: "x=1", Protocol: "HTTP/2.0", Status: 200, ResponseBytes: 512,
				RequestTimeSeconds: f64(0.042), Referer: "https://shop.example/", SessionId: "s-123", UserAgent: ua}},
		{"msec, split request, cookie variable, TLS",
			`$msec|$remote_addr|$request_method|$uri|$args|$server_protocol|$status|$bytes_sent|$cookie_sid|$ssl_protocol|$ssl_cipher|$http_accept_language`,
			Options{SessionCookie: "sid"},
			`1795255203.042|2001:db8::7|POST|/login|-|HTTP/1.1|302|900|abc|TLSv1.3|TLS_AES_128_GCM_SHA256|de-DE`,
			&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03.042Z"), ClientIp: "2001:db8::7",
				Method: "POST", Path: "/login", Protocol: "HTTP/1.1", Status: 302, ResponseBytes: 900, SessionId: "abc",
				TlsVersion: "TLSv1.3", TlsCipher: "TLS_AES_128_GCM_SHA256", AcceptLanguage: str("de-DE")}},
		{"iso time, request_uri, cookie header, braces",
			`${time_iso8601} ${remote_addr} "$request_uri" $status "$http_cookie" "$http_x_forwarded_for"`,
			Options{SessionCookie: "sid"},
			`2026-11-21T10:00:03+01:00 10.0.0.5 "/p/1?a=b" 404 "a=1; sid=zz; b=2" "198.51.100.1"`,
			&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T09:00:03Z"), ClientIp: "10.0.0.5", Path: "/p/1", Query: "a=b",
				Status: 404, SessionId: "zz", ForwardedFor: "198.51.100.1"}},
		{"escapes decode as in the combined format",
			`$remote_addr [$time_local] "$request" "$http_user_agent"`, Options{},
			`203.0.113.7 [21/Nov/2026:10:00:03 +0000] "GET /caf\xC3\xA9 HTTP/1.1" "say \x22hi\x22"`,
			&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03Z"), ClientIp: "203.0.113.7", Method: "GET",
				Path: "/café", Protocol: "HTTP/1.1", UserAgent: `say "hi"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.LogFormat = tc.format
			p := mustNew(t, FormatNginx, tc.opts)
			expectParse(t, p, FormatNginx, tc.line, tc.want)
		})
	}
}

func TestCustomApache(t *testing.T) {
	for _, tc := range []struct {
		name, format string
		opts         Options
		line         string
		want         *eventpb.RequestEvent
	}{
		{"combined", "", Options{},
			`192.0.2.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`,
			&eventpb.RequestEvent{TimeUnixNano: ts("2000-10-10T20:55:36Z"), ClientIp: "192.0.2.1", Method: "GET",
				Path: "/apache_pb.gif", Protocol: "HTTP/1.0", Status: 200, ResponseBytes: 2326,
				Referer: "http://www.example.com/start.html", UserAgent: "Mozilla/4.08 [en] (Win98; I ;Nav)"}},
		{"vhost, microseconds, cookie, escaped quote",
			`%v %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D %{sid}C`, Options{SessionCookie: "sid"},
			`www.example.org 192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 - "-" "a \"q\" b" 4200 s-9`,
			&eventpb.RequestEvent{TimeUnixNano: ts("2000-10-10T13:55:36Z"), ClientIp: "192.0.2.1", Host: "www.example.org",
				Method: "GET", Path: "/a", Query: "b=1", Protocol: "HTTP/1.1", Status: 200, UserAgent: `a "q" b`,
				RequestTimeSeconds: f64(0.0042), SessionId: "s-9"}},
		{"%a over %h, split request, %T in ms, header session",
			`%h %a %{%d/%b/%Y:%H:%M:%S %z}t %m %U%q %H %s %O %{ms}T %{X-Session}i %{SSL_PROTOCOL}x`, Options{SessionField: "%{X-Session}i"},
			`proxy.local 198.51.100.4 10/Oct/2000:13:55:36 +0000 GET /search?q=x HTTP/1.1 200 1234 15 sess-1 TLSv1.2`,
			&eventpb.RequestEvent{TimeUnixNano: ts("2000-10-10T13:55:36Z"), ClientIp: "198.51.100.4", Method: "GET",
				Path: "/search", Query: "q=x", Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 1234,
				RequestTimeSeconds: f64(0.015), SessionId: "sess-1", TlsVersion: "TLSv1.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.LogFormat = tc.format
			p := mustNew(t, FormatApache, tc.opts)
			expectParse(t, p, FormatApache, tc.line, tc.want)
		})
	}
}

func TestCustomRejects(t *testing.T) {
	p := mustNew(t, FormatNginx, Options{LogFormat: `$host $remote_addr [$time_local] "$request" $status $request_time`})
	ok := `a.example 192.0.2.1 [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 0.1`
	var ev eventpb.RequestEvent
	if err := p.Parse([]byte(ok), &ev); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line  string
		want  error
		inMsg string
	}{
		{`a.example 192.0.2.1 [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 2000 0.1`, ErrBadSyntax, "in $status at column 67"},
		{`a.example 192.0.2.1 [31/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 0.1`, ErrBadTime, "in $time_local"},
		{`a.example 192.0.2.1 21/Nov/2026:10:00:03 +0000 "GET / HTTP/1.1" 200 0.1`, ErrBadSyntax, "$remote_addr"},
		{`a.example 192.0.2.1 [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 fast`, ErrBadSyntax, "$request_time"},
		{`a.example host.name [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 0.1`, ErrBadIP, "remote_addr"},
		{`a.example 192.0.2.1 [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1`, ErrBadSyntax, "$request"},
		{`192.0.2.1 [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 0.1`, ErrBadSyntax, ""},
	} {
		expectReject(t, p, tc.line, tc.want, tc.inMsg)
	}
}

func TestCustomCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		f     Format
		opts  Options
		inMsg string
	}{
		{FormatNginx, Options{LogFormat: `$remote_addr $status`}, "logs no time"},
		{FormatNginx, Options{LogFormat: `[$time_local] $status`}, "no client address"},
		{FormatNginx, Options{LogFormat: `$remote_addr$status [$time_local]`}, "nothing between them"},
		{FormatNginx, Options{LogFormat: `$remote_addr [$time_local] $ x`}, "not followed by a variable name"},
		{FormatNginx, Options{LogFormat: `$remote_addr [${time_local]`}, "not closed"},
		{FormatNginx, Options{LogFormat: `$remote_addr [$time_local]`, SessionField: "sid"}, `session field "sid"`},
		{FormatNginx, Options{LogFormat: `$remote_addr [$time_local]`, SessionCookie: "sid"}, `$cookie_sid`},
		{FormatApache, Options{LogFormat: `%h %t %Z`}, "unknown directive %Z"},
		{FormatApache, Options{LogFormat: `%h %t %{Referer`}, "not closed"},
		{FormatApache, Options{LogFormat: `%h %t %i`}, "needs a header name"},
		{FormatNginxJSON, Options{LogFormat: `$remote_addr`}, "for nginx or apache"},
		{FormatNginx, Options{JSONFields: map[string]string{"remote_addr": "ip"}}, "for nginx-json"},
		{FormatNginxJSON, Options{JSONFields: map[string]string{"client": "ip"}}, `"client" is not a field`},
		{FormatNginxJSON, Options{JSONFields: map[string]string{"remote_addr": "ip", "http_x_forwarded_for": "ip"}}, "mapped to both"},
	} {
		_, err := New(tc.f, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.inMsg) {
			t.Errorf("New(%s, %+v) = %v, want an error mentioning %q", tc.f, tc.opts, err, tc.inMsg)
		}
	}
}

// TestCustomMatchesBuiltin: the stock formats written as format strings
// give the same events as the built-in parser, line for line, on the real
// logs.
func TestCustomMatchesBuiltin(t *testing.T) {
	lines := realNginxLines(t)
	builtin := mustNew(t, FormatNginx, Options{})
	for _, tc := range []struct {
		f      Format
		format string
	}{{FormatNginx, "combined"}, {FormatApache, "combined"}} {
		custom := mustNew(t, tc.f, Options{LogFormat: tc.format})
		var a, b eventpb.RequestEvent
		accepted := 0
		for _, l := range lines {
			errA := builtin.Parse(l, &a)
			errB := custom.Parse(l, &b)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("%s %q: built-in %v, custom %v\n%s", tc.f, tc.format, errA, errB, l)
			}
			if errA != nil {
				continue
			}
			accepted++
			b.Format = a.Format
			if !proto.Equal(&a, &b) {
				t.Fatalf("%s %q: events differ on\n%s\nbuilt-in: %s\ncustom: %s", tc.f, tc.format, l, prototext.Format(&a), prototext.Format(&b))
			}
		}
		if accepted < len(lines)*99/100 {
			t.Fatalf("only %d of %d lines accepted", accepted, len(lines))
		}
	}
}

func TestJSONFields(t *testing.T) {
	p := mustNew(t, FormatNginxJSON, Options{JSONFields: map[string]string{
		"remote_addr": "client", "time_iso8601": "ts", "request_uri": "url", "status": "code", "session_id": "sid"}})
	expectParse(t, p, FormatNginxJSON, `{"ts":"2026-11-21T10:00:03Z","client":"192.0.2.9","url":"/a?b","code":201,"sid":"x1","request_method":"PUT"}`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2026-11-21T10:00:03Z"), ClientIp: "192.0.2.9", Method: "PUT", Path: "/a", Query: "b",
			Status: 201, SessionId: "x1"})
}

func TestParseJSONFields(t *testing.T) {
	m, err := ParseJSONFields(" remote_addr=client , time_iso8601=ts")
	if err != nil || len(m) != 2 || m["remote_addr"] != "client" || m["time_iso8601"] != "ts" {
		t.Fatalf("%v, %v", m, err)
	}
	if m, err := ParseJSONFields(""); err != nil || m != nil {
		t.Fatalf("empty: %v, %v", m, err)
	}
	for _, bad := range []string{"remote_addr", "=x", "a=", "a=b,a=c"} {
		if _, err := ParseJSONFields(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
