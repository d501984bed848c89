package sidecar_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func produce(t testing.TB, b *embedkafka.Broker, key string, v *eventpb.Verdict) {
	t.Helper()
	// Closed here, not at cleanup: a test may stop the broker first.
	cl, err := kafka.NewClient(kafkatest.Config(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte(key)}
	if v != nil {
		rec.Value, _ = proto.Marshal(v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", key, err)
	}
}

// seed writes the verdicts most tests look up.
func seed(t testing.TB, b *embedkafka.Broker) {
	t.Helper()
	exp := time.Now().Add(time.Hour).UnixNano()
	produce(t, b, "ip:203.0.113.7", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 96.5,
		Reasons: []string{"rate_10s=48/s", "no_static_assets"}, AtUnixNano: time.Date(2026, 11, 21, 10, 0, 3, 0, time.UTC).UnixNano(),
		ExpiresAtUnixNano: time.Date(2026, 11, 21, 11, 0, 3, 0, time.UTC).Add(24 * 365 * 20 * time.Hour).UnixNano()})
	produce(t, b, "ip:203.0.113.8", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, ExpiresAtUnixNano: exp})
	produce(t, b, "ip:203.0.113.9", &eventpb.Verdict{Action: eventpb.Action_MONITOR})
	produce(t, b, "net:198.51.100.0/24", &eventpb.Verdict{Action: eventpb.Action_BLOCK})
	produce(t, b, "ip:2001:db8::1", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE})
	produce(t, b, "session:bad-session", &eventpb.Verdict{Action: eventpb.Action_BLOCK})
	produce(t, b, "ip:127.0.0.1", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE})
	produce(t, b, "ip:192.0.2.200", &eventpb.Verdict{Action: eventpb.Action_BLOCK})
	produce(t, b, "ip:192.0.2.200", nil)
}

// start runs a sidecar on free loopback ports until the test ends.
func start(t testing.TB, kcfg kafka.Config, mod func(*sidecar.Config)) *sidecar.Sidecar {
	t.Helper()
	cfg := sidecar.DefaultConfig()
	cfg.Addr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	if mod != nil {
		mod(&cfg)
	}
	s, err := sidecar.New(cfg, kcfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := waitRun(t, done); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

// waitRun waits for a cancelled Run to return. One that does not fails the
// test with every goroutine's stack, so a hang says where it is instead of
// running into the test binary's timeout.
func waitRun(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		var stacks strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Fatalf("Run did not return 30 s after cancel; goroutines:\n%s", stacks.String())
		return nil
	}
}

func waitReady(t testing.TB, s *sidecar.Sidecar) {
	t.Helper()
	select {
	case <-s.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("sidecar never caught up")
	}
}

// deadKafka points at a port nothing listens on: the sidecar never catches up.
func deadKafka(t testing.TB) kafka.Config {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return kafka.Config{Brokers: []string{addr}, ClientID: "test", DialTimeout: time.Second, Topics: kafka.DefaultTopics()}
}

type reply struct {
	status int
	action string
	header http.Header
	body   string
}

func get(t testing.TB, url string, hdr map[string]string) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

// client bounds every test request: a sidecar that stops answering fails
// the test rather than hanging it.
var client = &http.Client{Timeout: 30 * time.Second}

func do(t testing.TB, req *http.Request) reply {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header.Get("X-Bulwark-Action"), resp.Header, string(body)}
}

func TestAuthz(t *testing.T) {
	b := kafkatest.Start(t)
	seed(t, b)
	s := start(t, kafkatest.Config(b), nil)
	waitReady(t, s)
	url := "http://" + s.Addr() + "/v1/authz"

	f := func(hdr map[string]string, wantStatus int, wantAction string) {
		t.Helper()
		r := get(t, url, hdr)
		if r.status != wantStatus || r.action != wantAction {
			t.Fatalf("authz %v = %d %q (%s), want %d %q", hdr, r.status, r.action, r.body, wantStatus, wantAction)
		}
	}
	ip := func(a string) map[string]string { return map[string]string{"X-Real-IP": a} }
	f(ip("203.0.113.7"), 403, "BLOCK")
	f(ip("203.0.113.8"), 401, "CHALLENGE")
	f(ip("203.0.113.9"), 204, "MONITOR")
	f(ip("198.51.100.77"), 403, "BLOCK") // prefix match
	f(ip("2001:db8::1"), 401, "CHALLENGE")
	f(ip("192.0.2.200"), 204, "ALLOW") // tombstoned
	f(ip("192.0.2.1"), 204, "ALLOW")
	f(map[string]string{"X-Real-IP": "192.0.2.1", "X-Bulwark-Session": "bad-session"}, 403, "BLOCK")
	f(nil, 401, "CHALLENGE") // no header from a trusted proxy: the peer (127.0.0.1) counts

	r := get(t, url, ip("not-an-ip"))
	if r.status != 400 || !strings.Contains(r.body, `"error"`) {
		t.Fatalf("malformed X-Real-IP: %d %s", r.status, r.body)
	}
}

func TestAuthzTrustedProxies(t *testing.T) {
	b := kafkatest.Start(t)
	seed(t, b)
	url := func(s *sidecar.Sidecar) string { return "http://" + s.Addr() + "/v1/authz" }

	// The test's peer, 127.0.0.1, is not trusted: its header is ignored and
	// the socket address (which has a CHALLENGE verdict) counts.
	untrusted := start(t, kafkatest.Config(b), func(c *sidecar.Config) { c.TrustedProxies = "10.0.0.0/8" })
	waitReady(t, untrusted)
	if r := get(t, url(untrusted), map[string]string{"X-Real-IP": "203.0.113.7"}); r.status != 401 {
		t.Fatalf("header from an untrusted peer was believed: %d %s", r.status, r.action)
	}
	if r := get(t, url(untrusted), map[string]string{"X-Real-IP": "garbage"}); r.status != 401 {
		t.Fatalf("garbage header from an untrusted peer must be ignored: %d", r.status)
	}

	// X-Forwarded-For through two trusted hops: the first untrusted from the right.
	xff := start(t, kafkatest.Config(b), func(c *sidecar.Config) {
		c.ClientIPHeader = "X-Forwarded-For"
		c.TrustedProxies = "127.0.0.0/8, 10.0.0.0/8"
	})
	waitReady(t, xff)
	f := func(chain string, want int) {
		t.Helper()
		if r := get(t, url(xff), map[string]string{"X-Forwarded-For": chain}); r.status != want {
			t.Fatalf("X-Forwarded-For %q = %d %s, want %d", chain, r.status, r.body, want)
		}
	}
	f("203.0.113.7, 10.1.2.3", 403)
	f("192.0.2.1, 203.0.113.7, 10.1.2.3", 403) // the client cannot forge what lies left of it
	f("203.0.113.7, 192.0.2.1", 204)
	f("203.0.113.7, nonsense", 400)

	// Repeated header lines are one list (RFC 9110 5.3).
	req, _ := http.NewRequest(http.MethodGet, url(xff), nil)
	req.Header["X-Forwarded-For"] = []string{"192.0.2.1, 203.0.113.7", "10.1.2.3"}
	if r := do(t, req); r.status != 403 {
		t.Fatalf("X-Forwarded-For over two lines = %d %s, want 403", r.status, r.body)
	}
}

// A request that is not HTTP gets the API's JSON error, not a bare reset.
// Requests the server cannot frame get the API's JSON error at once (well
// inside the 5 s read timeout) and a closed connection: malformed headers,
// HTTP/0.9, bare LF or CR line ends, and bodies over the batch endpoint's
// 1 MiB, refused before they are read.
func TestMalformedHTTP(t *testing.T) {
	s := start(t, deadKafka(t), func(c *sidecar.Config) { c.GRPCAddr = "off" })
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"broken header", "GET /v1/authz HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n", 400},
		{"HTTP/0.9", "GET /v1/authz\r\n", 400},
		{"bare LF", "GET /v1/authz HTTP/1.1\nHost: x\n\n", 400},
		{"bare CR", "GET /v1/authz HTTP/1.1\rHost: x\r\r", 400},
		{"NUL in the method", "G\x00T /x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"body over 1 MiB", "POST /v1/verdicts HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n[", 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(3 * time.Second)) // under the read timeout
			if _, err := io.WriteString(conn, tc.req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !json.Valid(body) || !strings.Contains(string(body), `"error"`) {
				t.Fatalf("got %d %q, want %d with a JSON error", resp.StatusCode, body, tc.status)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("connection left open: %v", err)
			}
		})
	}
}

func TestVerdictAPI(t *testing.T) {
	b := kafkatest.Start(t)
	seed(t, b)
	s := start(t, kafkatest.Config(b), nil)
	waitReady(t, s)
	base := "http://" + s.Addr()

	r := get(t, base+"/v1/verdict?ip=203.0.113.7", nil)
	want := `{"subject":"ip:203.0.113.7","action":"BLOCK","score":96.5,"reasons":["rate_10s=48/s","no_static_assets"],"at":"2026-11-21T10:00:03Z",`
	if r.status != 200 || !strings.HasPrefix(r.body, want) || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("verdict: %d %s", r.status, r.body)
	}
	f := func(query string, wantStatus int, wantBody string) {
		t.Helper()
		r := get(t, base+"/v1/verdict?"+query, nil)
		if r.status != wantStatus || strings.TrimSpace(r.body) != wantBody {
			t.Fatalf("verdict?%s = %d %s, want %d %s", query, r.status, r.body, wantStatus, wantBody)
		}
	}
	f("ip=192.0.2.1", 200, `{"subject":"ip:192.0.2.1","action":"ALLOW","score":0,"reasons":[]}`)
	f("ip=198.51.100.3", 200, `{"subject":"net:198.51.100.0/24","action":"BLOCK","score":0,"reasons":[]}`)
	f("ip=192.0.2.1&session=bad-session", 200, `{"subject":"session:bad-session","action":"BLOCK","score":0,"reasons":[]}`)
	f("ip=::ffff:192.0.2.1", 200, `{"subject":"ip:192.0.2.1","action":"ALLOW","score":0,"reasons":[]}`)
	f("ip=300.1.2.3", 400, `{"error":"ip \"300.1.2.3\" is not an IP address"}`)
	f("ip=fe80::1%25eth0", 400, `{"error":"ip \"fe80::1%eth0\" is not an IP address"}`)
	f("", 400, `{"error":"want ip, session or both"}`)
	// Session ids: the check of every entry point of subjects (libs/platform/subject).
	f("ip=192.0.2.1&session=abc%0Adef", 400, `{"error":"malformed subject: session id has byte 0x0a at 3; want visible ASCII (0x21-0x7e)"}`)
	f("session=a%20b", 400, `{"error":"malformed subject: session id has byte 0x20 at 1; want visible ASCII (0x21-0x7e)"}`)
	f("session="+strings.Repeat("a", 257), 400, `{"error":"malformed subject: session id of 257 bytes, at most 256"}`)
	f("session="+strings.Repeat("a", 256), 200, `{"subject":"session:`+strings.Repeat("a", 256)+`","action":"ALLOW","score":0,"reasons":[]}`)

	post := func(body string) reply {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/verdicts", strings.NewReader(body))
		return do(t, req)
	}
	r = post(`[{"ip":"192.0.2.1"},{"ip":"203.0.113.8"},{"session":"bad-session"}]`)
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.body), &got); r.status != 200 || err != nil || len(got) != 3 {
		t.Fatalf("batch: %d %s %v", r.status, r.body, err)
	}
	if got[0]["action"] != "ALLOW" || got[1]["action"] != "CHALLENGE" || got[2]["subject"] != "session:bad-session" {
		t.Fatalf("batch answers: %s", r.body)
	}
	for _, bad := range []string{`{"ip":"192.0.2.1"}`, `[{"ip":"x"}]`, `[{"session":"a\nb"}]`, `[{"addr":"192.0.2.1"}]`, `[{}]`, `[] []`, `[`} {
		if r := post(bad); r.status != 400 || !strings.Contains(r.body, `"error"`) {
			t.Fatalf("batch %s = %d %s, want 400", bad, r.status, r.body)
		}
	}
	if r := post("[" + strings.Repeat(`{"ip":"192.0.2.1"},`, 1000) + `{"ip":"192.0.2.1"}]`); r.status != 400 {
		t.Fatalf("1001 lookups: %d", r.status)
	}
	// A body over 1 MiB is refused at its header, unread: a client that
	// asks first (Expect: 100-continue, as curl does for large bodies) gets
	// the 413 before sending it; one that sends it at once may see the
	// connection reset before it reads the 413.
	huge, _ := http.NewRequest(http.MethodPost, base+"/v1/verdicts", strings.NewReader("["+strings.Repeat(" ", 2<<20)+"]"))
	huge.Header.Set("Expect", "100-continue")
	expecting := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}, Timeout: 10 * time.Second}
	resp, err := expecting.Do(huge)
	if err != nil {
		t.Fatalf("huge body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("huge body: %d", resp.StatusCode)
	}
	if r := get(t, base+"/v1/nope", nil); r.status != 404 || !strings.Contains(r.body, `"error"`) {
		t.Fatalf("unknown path: %d %s", r.status, r.body)
	}

	if r := get(t, base+"/healthz", nil); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := get(t, base+"/readyz", nil); r.status != 200 || !strings.Contains(r.body, `"ready":true`) {
		t.Fatalf("readyz %d %s", r.status, r.body)
	}
	m := get(t, base+"/metrics", nil).body
	for _, want := range []string{
		`bulwark_sidecar_lookups_total{action="BLOCK",api="verdict"}`,
		`bulwark_sidecar_table_verdicts{kind="ip"} 5`,
		`bulwark_sidecar_table_verdicts{kind="net"} 1`,
		`bulwark_sidecar_bad_requests_total{api="batch",reason="body"}`,
		`bulwark_sidecar_bad_requests_total{api="verdict",reason="query"} 6`,
		`bulwark_sidecar_consumer_lag_records 0`,
		`bulwark_sidecar_ready 1`,
		`bulwark_sidecar_last_record_age_seconds`,
		`bulwark_sidecar_catch_up_seconds`,
		`bulwark_verdictlog_lag_records{reader="sidecar"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestFollowsAfterCatchUp(t *testing.T) {
	b := kafkatest.Start(t)
	s := start(t, kafkatest.Config(b), nil)
	waitReady(t, s) // an empty topic: caught up at once
	url := "http://" + s.Addr() + "/v1/authz"
	hdr := map[string]string{"X-Real-IP": "192.0.2.9"}
	waitStatus := func(want int) {
		t.Helper()
		testkit.Eventually(t, 20*time.Second, fmt.Sprintf("status %d", want), func() bool { return get(t, url, hdr).status == want })
	}
	waitStatus(204)
	produce(t, b, "ip:192.0.2.9", &eventpb.Verdict{Action: eventpb.Action_BLOCK, ExpiresAtUnixNano: time.Now().Add(3 * time.Second).UnixNano()})
	waitStatus(403)
	waitStatus(204) // expired: invisible at once
	produce(t, b, "net:192.0.2.0/24", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE})
	waitStatus(401)
	produce(t, b, "net:192.0.2.0/24", nil)
	waitStatus(204)
}

func TestFailModeBeforeCatchUp(t *testing.T) {
	kcfg := deadKafka(t)
	f := func(mode string, wantAuthz int, wantVerdict int) {
		t.Helper()
		s := start(t, kcfg, func(c *sidecar.Config) { c.FailMode = mode })
		base := "http://" + s.Addr()
		if r := get(t, base+"/readyz", nil); r.status != 503 || !strings.Contains(r.body, `"ready":false`) {
			t.Fatalf("readyz before catch-up: %d %s", r.status, r.body)
		}
		if r := get(t, base+"/healthz", nil); r.status != 200 {
			t.Fatalf("healthz: %d", r.status)
		}
		r := get(t, base+"/v1/authz", map[string]string{"X-Real-IP": "203.0.113.7"})
		if r.status != wantAuthz || r.header.Get("X-Bulwark-Degraded") != "not-ready" {
			t.Fatalf("%s: authz %d %v, want %d", mode, r.status, r.header, wantAuthz)
		}
		if r := get(t, base+"/v1/verdict?ip=203.0.113.7", nil); r.status != wantVerdict {
			t.Fatalf("%s: verdict %d %s, want %d", mode, r.status, r.body, wantVerdict)
		}
	}
	f("open", 204, 200)
	f("closed", 403, 503)
}

func TestSnapshotServesWhileCatchingUp(t *testing.T) {
	b := kafkatest.Start(t)
	seed(t, b)
	snap := t.TempDir() + "/verdicts.snap"
	ctx, cancel := context.WithCancel(context.Background())
	cfg := sidecar.DefaultConfig()
	cfg.Addr, cfg.GRPCAddr, cfg.SnapshotFile = "127.0.0.1:0", "off", snap
	first, err := sidecar.New(cfg, kafkatest.Config(b), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	waitReady(t, first)
	cancel()
	if err := waitRun(t, done); err != nil {
		t.Fatal(err)
	}

	// Restarted while Kafka is unreachable: not ready, but the snapshot answers.
	s := start(t, deadKafka(t), func(c *sidecar.Config) { c.SnapshotFile = snap; c.FailMode = "closed" })
	base := "http://" + s.Addr()
	if r := get(t, base+"/readyz", nil); r.status != 503 || !strings.Contains(r.body, `"serving_snapshot":true`) {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	if r := get(t, base+"/v1/authz", map[string]string{"X-Real-IP": "203.0.113.7"}); r.status != 403 || r.header.Get("X-Bulwark-Degraded") != "" {
		t.Fatalf("blocked IP from the snapshot: %d %v", r.status, r.header)
	}
	if r := get(t, base+"/v1/authz", map[string]string{"X-Real-IP": "192.0.2.1"}); r.status != 204 {
		t.Fatalf("clean IP from the snapshot: %d", r.status)
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(mod func(*sidecar.Config), wantVar string) {
		t.Helper()
		cfg := sidecar.DefaultConfig()
		mod(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), wantVar) {
			t.Fatalf("Validate() = %v, want an error naming %s", err, wantVar)
		}
	}
	f(func(c *sidecar.Config) { c.Addr = "nope" }, "BULWARK_SIDECAR_ADDR")
	f(func(c *sidecar.Config) { c.GRPCAddr = "nope" }, "BULWARK_SIDECAR_GRPC_ADDR")
	f(func(c *sidecar.Config) { c.FailMode = "sideways" }, "BULWARK_SIDECAR_FAIL_MODE")
	f(func(c *sidecar.Config) { c.TrustedProxies = "10.0.0.0/99" }, "BULWARK_SIDECAR_TRUSTED_PROXIES")
	f(func(c *sidecar.Config) { c.ClientIPHeader = "X Real IP" }, "BULWARK_SIDECAR_CLIENT_IP_HEADER")
	f(func(c *sidecar.Config) { c.MaxBatch = 0 }, "BULWARK_SIDECAR_MAX_BATCH")
	f(func(c *sidecar.Config) { c.MaxConns = 0 }, "BULWARK_SIDECAR_MAX_CONNS")
	f(func(c *sidecar.Config) { c.GRPCTrustedPeers = "10.0.0.0/8,nope" }, "BULWARK_SIDECAR_GRPC_TRUSTED_PEERS")
	f(func(c *sidecar.Config) { c.KafkaCheckInterval = 0 }, "BULWARK_SIDECAR_KAFKA_CHECK_INTERVAL")
	f(func(c *sidecar.Config) { c.MaxBufferedBytes = 1000 }, "BULWARK_SIDECAR_MAX_BUFFERED_BYTES")
	if err := sidecar.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestReadyOnlyAfterCatchUp starts the sidecar while Kafka is down: /readyz
// is 503 until the broker is back and every record that was on it has been
// applied, then 200 with the last of those records already answering.
func TestReadyOnlyAfterCatchUp(t *testing.T) {
	dir := t.TempDir()
	first, err := embedkafka.Start(context.Background(), embedkafka.Config{Listen: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := first.Addr()
	seed(t, first)
	cl, err := kafka.NewClient(kafkatest.Config(first), nil)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 300 {
		v, _ := proto.Marshal(&eventpb.Verdict{Action: eventpb.Action_BLOCK})
		recs = append(recs, &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte(fmt.Sprintf("ip:10.9.%d.%d", i/256, i%256)), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	first.Close()

	kcfg := kafkatest.Config(first)
	// Registered before the sidecar's cleanup, so it runs after it: the
	// sidecar stops while its broker is still there.
	var second *embedkafka.Broker
	t.Cleanup(func() {
		if second != nil {
			second.Close()
		}
	})
	s := start(t, kcfg, nil)
	base := "http://" + s.Addr()
	if r := get(t, base+"/readyz", nil); r.status != 503 {
		t.Fatalf("readyz without Kafka: %d", r.status)
	}
	if second, err = embedkafka.Start(context.Background(), embedkafka.Config{Listen: addr, DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 40*time.Second, "ready after Kafka came back", func() bool { return get(t, base+"/readyz", nil).status == 200 })
	for _, ip := range []string{"10.9.1.43", "203.0.113.7"} {
		if r := get(t, base+"/v1/authz", map[string]string{"X-Real-IP": ip}); r.status != 403 {
			t.Fatalf("%s right after ready: %d, want 403", ip, r.status)
		}
	}
}

// A sidecar stopped as soon as it starts (a pod killed during start-up)
// still returns from Run: the HTTP server may not have begun serving yet.
func TestRunStoppedAtOnce(t *testing.T) {
	kcfg := deadKafka(t)
	for range 50 {
		cfg := sidecar.DefaultConfig()
		cfg.Addr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
		s, err := sidecar.New(cfg, kcfg, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		if err := waitRun(t, done); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
}

// TestReadyzWhileKafkaDown: once caught up, the sidecar stays ready when
// the broker goes away (it serves the verdicts it holds), but /readyz says
// since when Kafka is unreachable and bulwark_sidecar_kafka_reachable drops
// to 0; both recover when the broker is back.
func TestReadyzWhileKafkaDown(t *testing.T) {
	dir := t.TempDir()
	first, err := embedkafka.Start(context.Background(), embedkafka.Config{Listen: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := first.Addr()
	seed(t, first)
	var second *embedkafka.Broker
	t.Cleanup(func() {
		if second != nil {
			second.Close()
		}
	})
	s := start(t, kafkatest.Config(first), func(c *sidecar.Config) { c.KafkaCheckInterval = 100 * time.Millisecond })
	waitReady(t, s)
	base := "http://" + s.Addr()
	waitFor := func(what string, cond func(readyz, metrics string) bool) reply {
		t.Helper()
		var r reply
		testkit.Eventually(t, 30*time.Second, what, func() bool {
			r = get(t, base+"/readyz", nil)
			return cond(r.body, get(t, base+"/metrics", nil).body)
		})
		return r
	}
	waitFor("Kafka reachable", func(r, m string) bool {
		return strings.Contains(r, `"kafka":"reachable"`) && strings.Contains(m, "bulwark_sidecar_kafka_reachable 1")
	})

	first.Close()
	r := waitFor("Kafka unreachable", func(r, m string) bool {
		return strings.Contains(r, `"kafka":"unreachable since `) && strings.Contains(m, "bulwark_sidecar_kafka_reachable 0")
	})
	if r.status != 200 || !strings.Contains(r.body, `"ready":true`) {
		t.Fatalf("readyz while Kafka is down: %d %s, want 200 and ready", r.status, r.body)
	}
	if a := get(t, base+"/v1/verdict?ip=203.0.113.7", nil); a.action != "BLOCK" {
		t.Fatalf("verdict while Kafka is down: %d %s", a.status, a.body)
	}

	if second, err = embedkafka.Start(context.Background(), embedkafka.Config{Listen: addr, DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	waitFor("Kafka reachable again", func(r, m string) bool {
		return strings.Contains(r, `"kafka":"reachable"`) && strings.Contains(m, "bulwark_sidecar_kafka_reachable 1")
	})
}

// The connection and buffered-body limits are wired to their variables
// and answer with the API's JSON error: BULWARK_SIDECAR_MAX_CONNS and
// BULWARK_SIDECAR_MAX_BUFFERED_BYTES (the bodies' bound across connections).
func TestHTTPLimits(t *testing.T) {
	s := start(t, deadKafka(t), func(c *sidecar.Config) { c.GRPCAddr, c.MaxConns, c.MaxBufferedBytes = "off", 2, 1<<20 })
	dial := func() (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	answer := func(br *bufio.Reader) (int, string) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// A body of the whole budget, stalled after its first bytes.
	stalled, _ := dial()
	if _, err := io.WriteString(stalled, "POST /v1/verdicts HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n[{"); err != nil {
		t.Fatal(err)
	}
	// The next body does not fit: 503 at once. Sent until the stalled one
	// is seen to hold the budget (the two race to the server).
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, br := dial()
		if _, err := io.WriteString(c, "POST /v1/verdicts HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]"); err != nil {
			t.Fatal(err)
		}
		status, body := answer(br)
		c.Close()
		if status == 503 {
			if !json.Valid([]byte(body)) || !strings.Contains(body, "retry later") {
				t.Fatalf("buffer full: %q, want a JSON error", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a body over BULWARK_SIDECAR_MAX_BUFFERED_BYTES got %d %s, want 503", status, body)
		}
	}
	// The stalled connection and one more reach MAX_CONNS=2; a third is
	// refused. Closed connections leave the count once the server sees
	// them close, so retry until then.
	// The probes above may not be counted out yet: until they are, the
	// second connection is refused too, so retry it.
	var held net.Conn
	for {
		var heldR *bufio.Reader
		held, heldR = dial()
		if _, err := io.WriteString(held, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		status, _ := answer(heldR)
		if status == 200 {
			break
		}
		held.Close()
		if time.Now().After(deadline) {
			t.Fatalf("second connection: %d", status)
		}
	}
	defer held.Close() // held open: it is one of the MAX_CONNS
	for {
		c, br := dial()
		// A refusal is written at once; an accepted connection (one of the
		// closed ones not yet counted out) waits for a request instead.
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := br.Peek(1); err != nil {
			c.Close()
			if time.Now().After(deadline) {
				t.Fatal("a connection over BULWARK_SIDECAR_MAX_CONNS was not refused")
			}
			continue
		}
		status, body := answer(br)
		if status == 503 {
			if !json.Valid([]byte(body)) || !strings.Contains(body, "too many connections") {
				t.Fatalf("over MAX_CONNS: %q, want a JSON error", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a connection over BULWARK_SIDECAR_MAX_CONNS got %d %s, want 503", status, body)
		}
	}
}
