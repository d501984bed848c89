package logparse

import (
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// A line as nginx writes it with deploy/nginx/log-format-json.conf.
const nginxJSONLine = `{"msec":"1763719203.042","time_iso8601":"2025-11-21T10:00:03+00:00","remote_addr":"10.0.0.5",` +
	`"http_x_forwarded_for":"198.51.100.1","host":"shop.example","request_method":"GET",` +
	`"request_uri":"/cart?add=7","server_protocol":"HTTP/2.0","status":"200","body_bytes_sent":"5120",` +
	`"request_time":"0.013","http_user_agent":"Mozilla/5.0 \"quoted\"","http_referer":"https://shop.example/",` +
	`"http_accept_language":"de-DE,de;q=0.9","session_id":"s3ss10n","ssl_protocol":"TLSv1.3",` +
	`"ssl_cipher":"TLS_AES_128_GCM_SHA256"}`

func TestNginxJSON(t *testing.T) {
	trusted, _ := clientip.ParseCIDRs("10.0.0.0/8")
	p := mustNew(t, FormatNginxJSON, Options{ClientIP: clientip.New(trusted)})
	f := func(line string, want *eventpb.RequestEvent) {
		t.Helper()
		expectParse(t, p, FormatNginxJSON, line, want)
	}
	f(nginxJSONLine, &eventpb.RequestEvent{
		TimeUnixNano: ts("2025-11-21T10:00:03.042Z"), ClientIp: "198.51.100.1", RemoteAddr: "10.0.0.5",
		ForwardedFor: "198.51.100.1", Host: "shop.example", Method: "GET", Path: "/cart", Query: "add=7",
		Protocol: "HTTP/2.0", Status: 200, ResponseBytes: 5120, RequestTimeSeconds: f64(0.013),
		UserAgent: `Mozilla/5.0 "quoted"`, Referer: "https://shop.example/", AcceptLanguage: str("de-DE,de;q=0.9"),
		SessionId: "s3ss10n", TlsVersion: "TLSv1.3", TlsCipher: "TLS_AES_128_GCM_SHA256",
	})
	// Bare numbers, time_iso8601 only, empty values as nginx logs unset variables, JA3/JA4, \u escapes.
	f(`{"time_iso8601":"2025-11-21T11:00:03+01:00","remote_addr":"2001:db8::1","http_x_forwarded_for":"",`+
		`"request_method":"POST","request_uri":"/l\u00f6gin","status":401,"body_bytes_sent":0,"request_time":0.5,`+
		`"http_user_agent":"","http_referer":"","http_accept_language":"","session_id":"","ssl_protocol":"",`+
		`"ja3":"e7d705a3286e19ea42f587b344ee6865","ja4":"t13d1516h2_8daaf6152771_02713d6af862","extra":{"x":[1,2]}}`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2025-11-21T10:00:03Z"), ClientIp: "2001:db8::1", Method: "POST",
			Path: "/lögin", Status: 401, RequestTimeSeconds: f64(0.5),
			Ja3: "e7d705a3286e19ea42f587b344ee6865", Ja4: "t13d1516h2_8daaf6152771_02713d6af862"})
	// $uri + $args and $request instead of request_uri; msec as a number; time_local.
	f(`{"msec":1763719203.5,"remote_addr":"192.0.2.1","uri":"/a","args":"b=1","server_protocol":"HTTP/1.1","request_method":"GET"}`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2025-11-21T10:00:03.5Z"), ClientIp: "192.0.2.1", Method: "GET",
			Path: "/a", Query: "b=1", Protocol: "HTTP/1.1"})
	f(`{"time_local":"21/Nov/2025:10:00:03 +0000","remote_addr":"192.0.2.1","request":"GET /x?y HTTP/1.1"}`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2025-11-21T10:00:03Z"), ClientIp: "192.0.2.1", Method: "GET",
			Path: "/x", Query: "y", Protocol: "HTTP/1.1"})

	// Session id from the raw Cookie header, and from a custom field.
	pc := mustNew(t, FormatNginxJSON, Options{SessionCookie: "sid"})
	expectParse(t, pc, FormatNginxJSON,
		`{"msec":"1763719203","remote_addr":"192.0.2.1","http_cookie":"a=1; sid=\"abc\"; b=2","session_id":"ignored"}`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2025-11-21T10:00:03Z"), ClientIp: "192.0.2.1", SessionId: "abc"})
	pf := mustNew(t, FormatNginxJSON, Options{SessionField: "sess"})
	expectParse(t, pf, FormatNginxJSON,
		`{"msec":"1763719203","remote_addr":"192.0.2.1","sess":"xyz","session_id":"other"}`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2025-11-21T10:00:03Z"), ClientIp: "192.0.2.1", SessionId: "xyz"})
}

func TestNginxJSONRejects(t *testing.T) {
	p := mustNew(t, FormatNginxJSON, Options{MaxLineBytes: 1024})
	f := func(line string, want error, inMsg string) {
		t.Helper()
		expectReject(t, p, line, want, inMsg)
	}
	f(`{"msec":"1763719203","remote_addr":"192.0.2.1"`, ErrBadSyntax, "cannot parse JSON")
	f(`[1,2]`, ErrBadSyntax, "JSON object")
	f(`{"msec":"1763719203","remote_addr":"192.0.2.1"} x`, ErrBadSyntax, "tail")
	f(`{"remote_addr":"192.0.2.1"}`, ErrBadSyntax, "msec")
	f(`{"msec":"1763719203"}`, ErrBadIP, "remote_addr")
	f(`{"msec":"1763719203","remote_addr":"localhost"}`, ErrBadIP, "remote_addr")
	f(`{"msec":"17637x9203","remote_addr":"192.0.2.1"}`, ErrBadTime, "msec")
	f(`{"msec":-5,"remote_addr":"192.0.2.1"}`, ErrBadTime, "msec")
	f(`{"msec":true,"remote_addr":"192.0.2.1"}`, ErrBadTime, "msec")
	f(`{"time_iso8601":"2025-02-29T10:00:03+00:00","remote_addr":"192.0.2.1"}`, ErrBadTime, "no such day")
	f(`{"time_iso8601":"2025-02-28 junk","remote_addr":"192.0.2.1"}`, ErrBadTime, "time_iso8601")
	f(`{"msec":"1763719203","remote_addr":"192.0.2.1","status":"2000"}`, ErrBadSyntax, "status")
	f(`{"msec":"1763719203","remote_addr":"192.0.2.1","status":"abc"}`, ErrBadSyntax, "status")
	f(`{"msec":"1763719203","remote_addr":"192.0.2.1","body_bytes_sent":-1}`, ErrBadSyntax, "body_bytes_sent")
	f(`{"msec":"1763719203","remote_addr":"192.0.2.1","request_time":"x"}`, ErrBadSyntax, "request_time")
	f("{\"msec\":\"1763719203\",\"remote_addr\":\"192.0.\xc3\x28.1\"}", ErrBadIP, "remote_addr")
	f(`{"msec":"1763719203","remote_addr":"192.0.2.1","x":"`+strings.Repeat("a", 1024)+`"}`, ErrTooLong, "")
}

// Sec-Fetch headers, where the log format has them, reach the event.
func TestNginxJSONSecFetch(t *testing.T) {
	p := mustNew(t, FormatNginxJSON, Options{})
	var ev eventpb.RequestEvent
	line := `{"msec":"1763719203.042","remote_addr":"192.0.2.1","request_method":"POST","request_uri":"/api/telemetry","http_sec_fetch_mode":"cors","http_sec_fetch_dest":"empty"}`
	if err := p.Parse([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.SecFetchMode != "cors" || ev.SecFetchDest != "empty" {
		t.Fatalf("sec-fetch: %v", &ev)
	}
	line = `{"msec":"1763719203.042","remote_addr":"192.0.2.1","http_sec_fetch_mode":"-","http_sec_fetch_dest":""}`
	if err := p.Parse([]byte(line), &ev); err != nil || ev.SecFetchMode != "" || ev.SecFetchDest != "" {
		t.Fatalf("absent sec-fetch: %v %v", err, &ev)
	}
}
