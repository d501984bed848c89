package logparse

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// The golden files pin what every JSON format gives for every line the
// package keeps (fixtures, test lines, the fuzzers' corpora), each fed to
// every JSON format under several options: the JSON formats share one
// scanner, and a change to it must not change an event or an error
// unnoticed. The real logs, rendered per format, are pinned by a digest
// (their outputs are too many to keep as text).
//
// Regenerate after an intended change: go test -run TestJSONGolden -update-golden

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden from the current parsers")

var jsonFormats = []Format{FormatNginxJSON, FormatCloudflare, FormatCaddy, FormatTraefikJSON, FormatGCPLB, FormatFastly}

// goldenExtra are lines the golden files cover beyond the fixtures and the
// fuzz corpora: the unit tests' lines and the cases where formats differ
// (time precedence, "-", alias keys, numbers where strings are usual).
var goldenExtra = []string{
	nginxJSONLine,
	cloudflareLine,
	`{"msec":"1763719203","remote_addr":"192.0.2.1","http_cookie":"a=1; sid=\"abc\"; b=2","session_id":"ignored","sess":"xyz"}`,
	`{"msec":1763719203.5,"remote_addr":"192.0.2.1","uri":"/a","args":"b=1","server_protocol":"HTTP/1.1","request_method":"GET"}`,
	`{"time_local":"21/Nov/2025:10:00:03 +0000","remote_addr":"192.0.2.1","request":"GET /x?y HTTP/1.1"}`,
	`{"time_local":"21/Nov/2025:10:00:03 +0000","time_iso8601":"2025-11-21T11:00:03+00:00","msec":"1763719203.25","remote_addr":"192.0.2.1"}`,
	`{"msec":"1763719203","time":"2025-11-21T11:00:03+00:00","remote_addr":"192.0.2.1","request_uri":"/r","uri":"/u","args":"a"}`,
	`{"msec":"1763719203","remote_addr":"-","http_x_forwarded_for":"-","http_user_agent":"-","http_referer":"-","host":"-","status":"-","body_bytes_sent":"-","request_time":"-"}`,
	`{"msec":"1763719203","remote_addr":"unix:","http_x_forwarded_for":"198.51.100.1, 10.0.0.3"}`,
	`{"msec":"1763719203","remote_addr":"192.0.2.1","bytes_sent":"900","body_bytes_sent":"800"}`,
	`{"msec":"1763719203","remote_addr":"192.0.2.1","body_bytes_sent":"800","bytes_sent":"900"}`,
	`{"msec":"1763719203","remote_addr":"192.0.2.1","bytes_sent":"900"}`,
	`{"msec":"1763719203","remote_addr":"192.0.2.1","status":"000","request":"\u0016\u0003"}`,
	`{"msec":"1763719203","remote_addr":"192.0.2.1","request":"GET /x HTTP/1.1","request_method":"POST","request_uri":"/y"}`,
	`{"msec":"1763719203","remote_addr":"192.0.2.1","http_ssl_ja3_hash":"j3","http_ssl_ja4":"j4","http_sec_fetch_mode":"-","http_sec_fetch_dest":"document"}`,
	`{"msec":"1763719203","remote_addr":"192.0.2.1","status":2000}`,
	`{"msec":"1763719203","remote_addr":"192.0.2.1","status":200.5}`,
	`{"msec":"1763719203","remote_addr":"192.0.2.1","request_time":-1}`,
	`{"msec":"1763719203","remote_addr":"192.0.2.1","http_accept_language":"-"}`,
	`{"msec":"1763719203.123456789","remote_addr":"192.0.2.1"}`,
	`{"msec":1763719203.123456789,"remote_addr":"192.0.2.1"}`,
	`{"msec":null,"time_local":"21/Nov/2025:10:00:03 +0000","remote_addr":"192.0.2.1"}`,
	`{"client":"192.0.2.9","ts":"2025-11-21T10:00:03Z","path":"/mapped?q=1","agent":"curl/8"}`,
	`{"ClientIP":"10.0.0.1","EdgeStartTimestamp":1763719203123456789,"RequestHeaders":{"x-forwarded-for":"198.51.100.1","Cookie":"sid=a","Sec-Fetch-Mode":"navigate","sec-fetch-dest":"document"}}`,
	`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"Cookies":{"sid":"c1"},"RequestHeaders":{"cookie":"sid=c2"}}`,
	`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"RequestHeaders":{"cookie":"sid=c2"},"Cookies":{"sid":"c1"}}`,
	`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"EdgeTimeToFirstByteMs":null,"OriginResponseDurationMs":"7"}`,
	`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"BotScore":100,"ClientASN":"13335","VerifiedBotCategory":"","SecurityAction":"unknown"}`,
	`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"BotScore":101,"ClientCountry":"xx","ClientSSLProtocol":"none","ClientSSLCipher":"none"}`,
	`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":"1763719203123","ClientRequestURI":"/u?q","ClientRequestPath":"/p"}`,
	`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"ClientRequestUserAgent":"-","ClientRequestReferer":"-"}`,
	`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"EdgeResponseStatus":"-","EdgeResponseBytes":"-"}`,
	`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"EdgeResponseStatus":1000}`,
	`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"JA3Hash":"a","JA4":"b","RayID":"r"}`,
	`{"ts":1700000000.5,"request":{"client_ip":"192.0.2.1","remote_ip":"10.0.0.1","headers":{"User-Agent":["a","b"],"Cookie":["sid=k"]}},"status":"200","size":"5","duration":"0.1"}`,
	`{"ts":"1700000000.5","request":{"remote_ip":"10.0.0.1"},"status":200,"duration":0.25,"sess":"q"}`,
	`{"StartUTC":"2024-01-01T00:00:00Z","ClientAddr":"[::1]:1","Duration":1500000,"DownstreamStatus":"200","request_X-Forwarded-For":"192.0.2.4"}`,
	`{"timestamp":"2024-05-01T10:20:45Z","httpRequest":{"remoteIp":"[2001:db8::1]:443","requestUrl":"https://h.example:8443/a?b","latency":"0.5s","status":404}}`,
	`{"timestamp":"2024-05-01T10:20:45+0200","client_ip":"1.2.3.4","request_time":"0.002","response_body_size":12,"geo_country_code":"fr"}`,
	`{}`, `[]`, `null`, `"x"`, ``, `{"a":1} x`, "{\"msec\":\"1\",\"remote_addr\":\"1.2.3.4\",\"request_uri\":\"/\xff\"}",
}

// goldenOptions are the option sets every line is parsed under.
func goldenOptions(f Format) map[string]Options {
	m := map[string]Options{
		"default": {},
		"cookie":  {SessionCookie: "sid"},
		"field":   {SessionField: "sess"},
	}
	if f == FormatNginxJSON {
		m["mapped"] = Options{JSONFields: map[string]string{"remote_addr": "client", "time_iso8601": "ts", "request_uri": "path", "http_user_agent": "agent"}}
	}
	return m
}

func goldenLines(t *testing.T) [][]byte {
	var lines [][]byte
	for _, s := range goldenExtra {
		lines = append(lines, []byte(s))
	}
	for _, f := range jsonFormats[2:] { // the provider formats have fixture files
		lines = append(lines, sourceFixtures(t, f)...)
	}
	for _, dir := range []string{"FuzzNginxJSON", "FuzzCloudflare", "FuzzCaddy", "FuzzTraefikJSON", "FuzzGCPLB", "FuzzFastly"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", dir, "*"))
		slices.Sort(files)
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			_, arg, ok := strings.Cut(string(b), "[]byte(")
			if !ok {
				continue
			}
			s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimSpace(arg), ")"))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			lines = append(lines, []byte(s))
		}
	}
	return lines
}

// describe renders a parse result in a stable text: the event's set fields
// in field-number order, or the error.
func describe(ev *eventpb.RequestEvent, err error) string {
	if err != nil {
		return "error " + strconv.Quote(err.Error())
	}
	m := ev.ProtoReflect()
	var fds []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		fds = append(fds, fd)
		return true
	})
	slices.SortFunc(fds, func(a, b protoreflect.FieldDescriptor) int { return int(a.Number() - b.Number()) })
	var b strings.Builder
	for i, fd := range fds {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := m.Get(fd)
		if fd.Kind() == protoreflect.StringKind {
			fmt.Fprintf(&b, "%s=%q", fd.Name(), v.String())
		} else {
			fmt.Fprintf(&b, "%s=%v", fd.Name(), v.Interface())
		}
	}
	return b.String()
}

func TestJSONGolden(t *testing.T) {
	lines := goldenLines(t)
	for _, f := range jsonFormats {
		var out bytes.Buffer
		opts := goldenOptions(f)
		names := make([]string, 0, len(opts))
		for n := range opts {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, name := range names {
			p, err := New(f, opts[name])
			if err != nil {
				fmt.Fprintf(&out, "%s options refused: %v\n", name, err)
				continue
			}
			var ev eventpb.RequestEvent
			for _, l := range lines {
				err := p.Parse(l, &ev)
				fmt.Fprintf(&out, "%s %q\n\t%s\n", name, l, describe(&ev, err))
			}
		}
		if _, ok := findRealLog("nginx-combined-2022.log"); ok && (f == FormatNginxJSON || f == FormatCloudflare) {
			p := mustNew(t, f, Options{SessionCookie: sessionCookieFor(f)})
			var ev eventpb.RequestEvent
			h := sha256.New()
			for _, l := range corpusFor(t, f) {
				err := p.Parse(l, &ev)
				fmt.Fprintln(h, describe(&ev, err))
			}
			fmt.Fprintf(&out, "real logs sha256 %x\n", h.Sum(nil))
		}
		path := filepath.Join("testdata", "golden", string(f)+".txt")
		if *updateGolden {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update-golden to create it)", err)
		}
		if got := out.Bytes(); !bytes.Equal(got, want) {
			gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
			for i := 0; i < len(gl) && i < len(wl); i++ {
				if gl[i] != wl[i] {
					t.Fatalf("%s: line %d differs from %s\n got: %s\nwant: %s\n(input: %s)", f, i+1, path, gl[i], wl[i], gl[max(i-1, 0)])
				}
			}
			t.Fatalf("%s: %d lines, golden has %d", f, len(gl), len(wl))
		}
	}
}
