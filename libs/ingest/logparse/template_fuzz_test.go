package logparse

import "testing"

// A custom format with every kind of field, so that the fuzzer reaches each
// conversion; the seeds are real lines rendered into it.
const fuzzNginxFormat = `$host $remote_addr - $remote_user [$time_local] $msec "$request" $status $body_bytes_sent ` +
	`$request_time "$http_referer" "$cookie_sid" "$http_user_agent" "$http_x_forwarded_for" $ssl_protocol|$time_iso8601|$request_uri|$bytes_sent|$http_accept_language`

func FuzzCustomNginx(f *testing.F) {
	for _, s := range []string{
		`a.example 10.0.0.1 - - [21/Nov/2026:10:00:03 +0000] 1795255203.042 "GET / HTTP/1.1" 200 1 0.001 "-" "s1" "ua" "198.51.100.1, 10.0.0.2" TLSv1.3|2026-11-21T10:00:03Z|/a?b|10|en`,
		`- unix: - - [21/Nov/2026:10:00:03 +0000] - "\x16\x03" 000 - - "\"" "" "\x22" "unknown, [::1]:80" -|-|-|-|-`,
		`a 1.2.3.4 - - [31/Feb/2024:00:00:00 +0000] 99999999999.9 "GET /\xC3\xA9 HTTP/1.1" 200 18446744073709551615 99999999.999 "-" "-" "-" "-" x|x|x|x|x`,
		`a 1.2.3.4 - - [21/Nov/2026:10:00:03 +0000] 1 "" 0 0 0 "" "" "" "" |||| `,
	} {
		f.Add([]byte(s))
	}
	p := mustNew(f, FormatNginx, Options{LogFormat: fuzzNginxFormat, SessionCookie: "sid", ClientIP: fuzzResolver(), MaxLineBytes: 4096})
	f.Fuzz(func(t *testing.T, line []byte) { fuzzParse(t, p, line) })
}

func FuzzCustomApache(f *testing.F) {
	fuzzSeeds(f, FormatApache, []string{
		`www.example.org 192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 - "-" "a \"q\" b" 4200 s-9 GET /a ?b=1`,
		`v 192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "\\" 200 - "\\\"" "\"" - - - - -`,
		`v fe80::1%eth0 - - [29/Feb/2024:00:00:00 -1200] "-" 408 0 "-" "-" 1 - - - -`,
	})
	p := mustNew(f, FormatApache, Options{
		LogFormat:     `%v %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D %{sid}C %m %U %q`,
		SessionCookie: "sid", ClientIP: fuzzResolver(), MaxLineBytes: 4096})
	f.Fuzz(func(t *testing.T, line []byte) { fuzzParse(t, p, line) })
}
