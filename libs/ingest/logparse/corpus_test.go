package logparse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// realNginxLines returns the lines of both real logs.
func realNginxLines(t testing.TB) [][]byte {
	t.Helper()
	var lines [][]byte
	for _, name := range []string{"nginx-combined-2022.log", "apache-combined-2015.log"} {
		lines = append(lines, readLines(t, realLogPath(t, name))...)
	}
	return lines
}

var realEventsCache struct {
	sync.Mutex
	evs []*eventpb.RequestEvent
}

// realEvents parses the real logs, to build JSON lines with real values.
func realEvents(t testing.TB) []*eventpb.RequestEvent {
	t.Helper()
	realEventsCache.Lock()
	defer realEventsCache.Unlock()
	if realEventsCache.evs != nil {
		return realEventsCache.evs
	}
	p := mustNew(t, FormatNginx, Options{})
	var out []*eventpb.RequestEvent
	for _, line := range realNginxLines(t) {
		var ev eventpb.RequestEvent
		if p.Parse(line, &ev) == nil {
			out = append(out, Clone(&ev))
		}
	}
	realEventsCache.evs = out
	return out
}

func target(ev *eventpb.RequestEvent) string {
	if ev.Query != "" {
		return ev.Path + "?" + ev.Query
	}
	return ev.Path
}

// nginxJSONLines renders real events the way deploy/nginx/log-format-json.conf does.
func nginxJSONLines(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for i, ev := range realEvents(t) {
		sec := ev.TimeUnixNano / 1e9
		m := []string{
			"msec", fmt.Sprintf("%d.%03d", sec, i%1000),
			"time_iso8601", time.Unix(sec, 0).UTC().Format("2006-01-02T15:04:05+00:00"),
			"remote_addr", ev.ClientIp,
			"http_x_forwarded_for", "",
			"host", "www.example.org",
			"request_method", ev.Method,
			"request_uri", target(ev),
			"server_protocol", ev.Protocol,
			"status", strconv.Itoa(int(ev.Status)),
			"body_bytes_sent", strconv.FormatUint(ev.ResponseBytes, 10),
			"request_time", fmt.Sprintf("0.%03d", i%1000),
			"http_user_agent", ev.UserAgent,
			"http_referer", ev.Referer,
			"http_accept_language", "en-US,en;q=0.9",
			"session_id", "",
			"ssl_protocol", "TLSv1.3",
			"ssl_cipher", "TLS_AES_128_GCM_SHA256",
		}
		out = append(out, jsonObject(m))
	}
	return out
}

// cloudflareLines renders real events as Logpush http_requests lines with a
// typical field selection (unixnano timestamps, Logpush's default).
func cloudflareLines(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for i, ev := range realEvents(t) {
		m := []any{
			"BotScore", 1 + i%99, "BotScoreSrc", "Machine Learning", "CacheCacheStatus", "dynamic",
			"ClientASN", 64496 + i%100, "ClientCountry", "de", "ClientDeviceType", "desktop",
			"ClientIP", ev.ClientIp, "ClientRequestHost", "www.example.org", "ClientRequestMethod", ev.Method,
			"ClientRequestProtocol", "HTTP/2", "ClientRequestReferer", ev.Referer, "ClientRequestURI", target(ev),
			"ClientRequestUserAgent", ev.UserAgent, "ClientSSLCipher", "AEAD-AES128-GCM-SHA256",
			"ClientSSLProtocol", "TLSv1.3", "Cookies", map[string]string{"__session": fmt.Sprintf("s%06d", i%5000)},
			"EdgeEndTimestamp", ev.TimeUnixNano + 1e8, "EdgeResponseBytes", ev.ResponseBytes,
			"EdgeResponseStatus", ev.Status, "EdgeStartTimestamp", ev.TimeUnixNano, "EdgeTimeToFirstByteMs", i % 500,
			"JA3Hash", "e7d705a3286e19ea42f587b344ee6865", "JA4", "t13d1516h2_8daaf6152771_02713d6af862",
			"OriginResponseDurationMs", i % 400, "RayID", fmt.Sprintf("%016x", i),
			"RequestHeaders", map[string]string{"accept-language": "en-US,en;q=0.9"}, "SecurityAction", "",
			"VerifiedBotCategory", "", "WorkerSubrequest", false, "ZoneName", "example.org",
		}
		out = append(out, jsonObjectAny(m))
	}
	return out
}

func jsonObject(kv []string) []byte {
	a := make([]any, len(kv))
	for i, s := range kv {
		a[i] = s
	}
	return jsonObjectAny(a)
}

func jsonObjectAny(kv []any) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv[i])
		v, _ := json.Marshal(kv[i+1])
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func corpusFor(t testing.TB, f Format) [][]byte {
	switch f {
	case FormatNginx, FormatApache:
		return realNginxLines(t)
	case FormatNginxJSON:
		return nginxJSONLines(t)
	case FormatCloudflare:
		return cloudflareLines(t)
	}
	var lines [][]byte // a provider's documented lines, without file headers
	for _, l := range sourceFixtures(t, f) {
		if l[0] != '#' {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestFormatsZeroAlloc is the allocation half of the parsing target:
// once warm, no format allocates for a line it accepts.
func TestFormatsZeroAlloc(t *testing.T) {
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			lines := corpusFor(t, f)
			p := mustNew(t, f, Options{SessionCookie: sessionCookieFor(f)})
			var ev eventpb.RequestEvent
			for _, l := range lines {
				if err := p.Parse(l, &ev); err != nil && f != FormatNginx && f != FormatApache {
					t.Fatalf("%s: %v\n%s", f, err, l)
				}
			}
			i := 0
			allocs := testing.AllocsPerRun(len(lines), func() {
				_ = p.Parse(lines[i%len(lines)], &ev)
				i++
			})
			if allocs != 0 {
				t.Fatalf("%s: %.3f allocations per line", f, allocs)
			}
		})
	}
}

func sessionCookieFor(f Format) string {
	if f == FormatCloudflare {
		return "__session"
	}
	return ""
}
