package logparse

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// realLogDir holds real access logs shared by the project (see its README).
const realLogDir = "../../../../shared/data/real-logs"

func findRealLog(name string) (string, bool) {
	p := filepath.Join(realLogDir, name)
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}

func realLogPath(t testing.TB, name string) string {
	t.Helper()
	p, ok := findRealLog(name)
	if !ok {
		t.Skipf("real log %s not found beside the repository (shared/data/real-logs)", name)
	}
	return p
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	return lines
}

// checkEvent asserts what every successfully parsed event must hold.
func checkEvent(t testing.TB, ev *eventpb.RequestEvent) {
	t.Helper()
	if ev.ClientIp == "" && ev.SessionId == "" {
		t.Fatalf("no client IP and no session: %v", ev)
	}
	for name, s := range map[string]string{
		"client_ip": ev.ClientIp, "method": ev.Method, "host": ev.Host, "path": ev.Path,
		"query": ev.Query, "protocol": ev.Protocol, "user_agent": ev.UserAgent,
		"referer": ev.Referer, "session_id": ev.SessionId, "remote_addr": ev.RemoteAddr,
		"forwarded_for": ev.ForwardedFor, "tls_version": ev.TlsVersion, "ja3": ev.Ja3,
		"ja4": ev.Ja4, "cdn_country": ev.CdnCountry, "accept_language": ev.GetAcceptLanguage(),
	} {
		if !utf8.ValidString(s) {
			t.Fatalf("%s is not valid UTF-8: %q", name, s)
		}
	}
}

func TestRealLogs(t *testing.T) {
	for _, tc := range []struct {
		file        string
		wantRejects int
	}{
		{"nginx-combined-2022.log", 0},
		// One line of the Apache sample is cut off inside its user agent
		// ("...+http://www.google.com/bot.html" with no closing quote).
		{"apache-combined-2015.log", 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			lines := readLines(t, realLogPath(t, tc.file))
			p, err := New(FormatNginx, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var ev eventpb.RequestEvent
			rejects, garbage := 0, 0
			for n, line := range lines {
				if err := p.Parse(line, &ev); err != nil {
					rejects++
					t.Logf("line %d rejected (%s): %v\n%s", n+1, Reason(err), err, line)
					continue
				}
				checkEvent(t, &ev)
				if ev.TimeUnixNano <= 0 || ev.Status == 0 {
					t.Fatalf("line %d: missing time or status: %v", n+1, &ev)
				}
				if ev.Method == "" {
					garbage++
				}
			}
			t.Logf("%s: %d lines, %d rejected (DLQ share %.4f%%), %d with a request line that is not HTTP",
				tc.file, len(lines), rejects, 100*float64(rejects)/float64(len(lines)), garbage)
			if rejects != tc.wantRejects {
				t.Fatalf("%d of %d lines rejected, want %d", rejects, len(lines), tc.wantRejects)
			}
		})
	}
}

// Raw bytes in a request are never a reason to drop it (a honeypot's log,
// or a log written without nginx's escaping, holds worm payloads as raw
// bytes): every real line, with raw invalid and control bytes put into its
// request line and user agent, is still an event, with the bytes escaped
// and the request marked malformed.
func TestRealLogsWithRawBytes(t *testing.T) {
	lines := readLines(t, realLogPath(t, "nginx-combined-2022.log"))
	p := mustNew(t, FormatNginx, Options{})
	var ev eventpb.RequestEvent
	events := 0
	for n, line := range lines {
		// `"GET /x HTTP/1.1"` -> `"GET /\xc0\xaf\x00x HTTP/1.1"`; the UA gets
		// a Latin-1 byte and a NUL.
		q := bytes.Index(line, []byte(`] "`))
		if q < 0 {
			continue
		}
		end := bytes.IndexByte(line[q+3:], '"')
		sp := bytes.Index(line[q+3:], []byte(" /"))
		if end < 0 || sp < 0 || sp > end {
			continue // not "METHOD /target": corrupting it would test nothing new
		}
		at := q + 3 + sp + 2
		bad := append(append(bytes.Clone(line[:at]), "\xc0\xaf\x00"...), line[at:]...)
		bad = bytes.Replace(bad, []byte(`" "`), []byte("\" \"\xe9\x00"), 1)
		if err := p.Parse(bad, &ev); err != nil {
			t.Fatalf("line %d rejected (%s): %v\n%q", n+1, Reason(err), err, bad)
		}
		checkEvent(t, &ev)
		if ev.Malformed != MalformedBadBytes {
			t.Fatalf("line %d not malformed: %v", n+1, &ev)
		}
		events++
	}
	if events < len(lines)*95/100 {
		t.Fatalf("only %d of %d lines corrupted", events, len(lines))
	}
}
