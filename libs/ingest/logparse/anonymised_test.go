package logparse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Lines of the Web Bot Detection Dataset (Iliou et al., CERTH, Zenodo, CC BY
// 4.0): the client is anonymised to "-", a bare session id follows the
// referer ("-" when the request had none).
const (
	webbotFormat    = `%h %l %t "%r" %>s %b "%{Referer}i" %{SESSION_ID}e "%{User-Agent}i"`
	webbotUA        = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/77.0.3865.90 Chrome/77.0.3865.90 Safari/537.36"
	webbotLine      = `- - [28/Oct/2019:09:40:31 +0000] "GET /css/main.css HTTP/1.1" 200 764 "https://160.40.52.164/" r0e98rtqr6192k5b8gl4ndlmha "` + webbotUA + `"`
	webbotNoSession = `- - [28/Oct/2019:09:40:31 +0000] "GET / HTTP/1.1" 200 2770 "-" - "` + webbotUA + `"`
)

func TestAnonymisedClients(t *testing.T) {
	want := &eventpb.RequestEvent{TimeUnixNano: ts("2019-10-28T09:40:31Z"), Method: "GET", Path: "/css/main.css",
		Protocol: "HTTP/1.1", Status: 200, ResponseBytes: 764, Referer: "https://160.40.52.164/",
		SessionId: "r0e98rtqr6192k5b8gl4ndlmha", UserAgent: webbotUA}
	f := func(name string, format Format, opts Options, line string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			expectParse(t, mustNew(t, format, opts), format, line, want)
		})
	}
	// Apache: the application's value as an environment variable or a
	// note, named with or without its directive; or a cookie.
	f("apache %{SESSION_ID}e, bare name", FormatApache, Options{LogFormat: webbotFormat, SessionField: "SESSION_ID"}, webbotLine)
	f("apache %{SESSION_ID}e, directive", FormatApache, Options{LogFormat: webbotFormat, SessionField: "%{SESSION_ID}e"}, webbotLine)
	f("apache %{sid}n", FormatApache, Options{LogFormat: strings.Replace(webbotFormat, "%{SESSION_ID}e", "%{sid}n", 1), SessionField: "sid"}, webbotLine)
	f("apache %{sid}C", FormatApache, Options{LogFormat: strings.Replace(webbotFormat, "%{SESSION_ID}e", "%{sid}C", 1), SessionCookie: "sid"}, webbotLine)
	// nginx: any variable (map, set, or a header the application adds).
	f("nginx $sid", FormatNginx, Options{LogFormat: `$remote_addr $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" $sid "$http_user_agent"`,
		SessionField: "sid"}, webbotLine)
	f("nginx empty address", FormatNginx, Options{LogFormat: `"$remote_addr" $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" $sid "$http_user_agent"`,
		SessionField: "sid"}, `""`+webbotLine[1:])
}

func TestAnonymisedWithoutSessionIsNoClient(t *testing.T) {
	p := mustNew(t, FormatApache, Options{LogFormat: webbotFormat, SessionField: "SESSION_ID"})
	var ev eventpb.RequestEvent
	err := p.Parse([]byte(webbotNoSession), &ev)
	if !errors.Is(err, ErrNoClient) || Reason(err) != "no_client" {
		t.Fatalf("got %v, want a no_client dead letter", err)
	}
	if !strings.Contains(err.Error(), "no session id") {
		t.Fatalf("reason %q does not say the session is missing", err)
	}
	// Without a session option the same line is still refused, by the same reason.
	p = mustNew(t, FormatApache, Options{LogFormat: `%h %l %t "%r" %>s %b "%{Referer}i" %{SESSION_ID}e "%{User-Agent}i"`})
	if err := p.Parse([]byte(webbotLine), &ev); !errors.Is(err, ErrNoClient) {
		t.Fatalf("no session option: got %v, want no_client", err)
	}
}

func TestSessionFieldNotInFormat(t *testing.T) {
	_, err := New(FormatApache, Options{LogFormat: webbotFormat, SessionField: "sid"})
	if err == nil || !strings.Contains(err.Error(), "%{sid}e") {
		t.Fatalf("got %v, want an error naming the spellings", err)
	}
}

func TestCheckCountsNoClientApart(t *testing.T) {
	p := mustNew(t, FormatApache, Options{LogFormat: webbotFormat, SessionField: "SESSION_ID"})
	res, err := Check(strings.NewReader(webbotLine+"\n"+webbotNoSession+"\n"+webbotLine+"\n"), p, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	if res.Parsed != 2 || res.Rejected != 0 || res.NoClient != 1 || !res.Matches() {
		t.Fatalf("got %+v, want 2 parsed, 0 rejected, 1 without client, matching", res)
	}
}

func FuzzAnonymisedApache(f *testing.F) {
	for _, s := range []string{webbotLine, webbotNoSession, `- - [28/Oct/2019:09:40:31 +0000] "-" 400 - "-" - "-"`,
		`1.2.3.4 - [28/Oct/2019:09:40:31 +0000] "GET / HTTP/1.1" 200 1 "-" s "ua"`} {
		f.Add([]byte(s))
	}
	p := mustNew(f, FormatApache, Options{LogFormat: webbotFormat, SessionField: "SESSION_ID", ClientIP: fuzzResolver(), MaxLineBytes: 4096})
	f.Fuzz(func(t *testing.T, line []byte) { fuzzParse(t, p, line) })
}

// BenchmarkParseAnonymisedApache parses the dataset's lines (an anonymised
// client, a bare session id); BenchmarkSplitAnonymised is the same run's
// baseline: finding the same lines with bytes.IndexByte, nothing parsed.
func BenchmarkParseAnonymisedApache(b *testing.B) {
	lines := anonymisedLines(b)
	p := mustNew(b, FormatApache, Options{LogFormat: webbotFormat, SessionField: "SESSION_ID"})
	var ev eventpb.RequestEvent
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := p.Parse(lines[i], &ev); err != nil && !errors.Is(err, ErrNoClient) {
			b.Fatal(err)
		}
		if i++; i == len(lines) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkSplitAnonymised(b *testing.B) {
	data := append(bytes.Join(anonymisedLines(b), []byte{'\n'}), '\n')
	b.ReportAllocs()
	pos := 0
	for b.Loop() {
		j := bytes.IndexByte(data[pos:], '\n')
		if pos += j + 1; pos >= len(data) {
			pos = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// anonymisedLines are the dataset excerpt's lines (libs/devtools/training/testdata/webbot).
func anonymisedLines(b *testing.B) [][]byte {
	var lines [][]byte
	for _, name := range []string{"bots.log", "humans.log"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "devtools", "training", "testdata", "webbot", name))
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, bytes.Split(bytes.TrimRight(data, "\n"), []byte{'\n'})...)
	}
	return lines
}
