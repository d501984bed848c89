package gate

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

type sink[T any] struct {
	mu  sync.Mutex
	got []T
	ch  chan T
}

func newSink[T any]() *sink[T] { return &sink[T]{ch: make(chan T, 1000)} }

func (s *sink[T]) Publish(_ context.Context, v T) {
	s.mu.Lock()
	s.got = append(s.got, v)
	s.mu.Unlock()
	select {
	case s.ch <- v:
	default:
	}
}

type fixture struct {
	g        *Gate
	table    *verdicttable.Table
	events   *sink[*eventpb.RequestEvent]
	feedback *sink[*eventpb.Feedback]
	url      string
}

func challengeConfig() challenge.Config {
	return challenge.Config{ClearanceTTL: time.Hour, TokenTTL: time.Minute, Provider: "builtin", MinScore: 0.5,
		VerifyTimeout: time.Second, VerifyAttempts: 1, InsecureCookie: true}
}

func startGate(t testing.TB, upstream http.Handler, mod func(*Config)) *fixture {
	t.Helper()
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	cfg := Config{Upstream: up.URL, Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", ClientIPHeader: "X-Forwarded-For",
		FailMode: "open", RetryAfter: 30 * time.Second, MaxIdleConnsPerHost: 64, ShutdownTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	fx := &fixture{table: verdicttable.New(), events: newSink[*eventpb.RequestEvent](), feedback: newSink[*eventpb.Feedback]()}
	g, err := New(cfg, Deps{Challenge: challengeConfig(), Keys: challenge.RandomKeys(), Registerer: prometheus.NewRegistry(),
		Table: fx.table, Events: fx.events, Feedback: fx.feedback})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	fx.g, fx.url = g, "http://"+g.Addr()
	return fx
}

// upstream answers with what it saw.
var upstream = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "upstream %s %s action=%s clearance=%s xff=%s", r.Method, r.URL.RequestURI(),
		r.Header.Get(HeaderAction), r.Header.Get(HeaderClearance), r.Header.Get("X-Forwarded-For"))
})

func get(t testing.TB, u string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestActions(t *testing.T) {
	fx := startGate(t, upstream, nil)
	set := func(a eventpb.Action, score float64) {
		_ = fx.table.Apply("ip:127.0.0.1", &eventpb.Verdict{Action: a, Score: score, Rule: "ladder"})
	}
	curl := map[string]string{"User-Agent": "curl/8.5.0", "Accept": "*/*"}

	resp, body := get(t, fx.url+"/shop?q=1", map[string]string{HeaderAction: "ALLOW-ME", "Accept": "text/html"})
	if resp.StatusCode != 200 || body != "upstream GET /shop?q=1 action=ALLOW clearance= xff=127.0.0.1" {
		t.Fatalf("allow: %d %q", resp.StatusCode, body)
	}
	set(eventpb.Action_MONITOR, 55)
	if _, body = get(t, fx.url+"/", nil); !strings.Contains(body, "action=MONITOR") {
		t.Fatalf("monitor: %q", body)
	}
	set(eventpb.Action_BLOCK, 95)
	resp, body = get(t, fx.url+"/", curl)
	if resp.StatusCode != 403 || strings.Contains(body, "upstream") || !strings.Contains(body, "Access denied") {
		t.Fatalf("block: %d %q", resp.StatusCode, body)
	}
	set(eventpb.Action_CHALLENGE, 72)
	resp, body = get(t, fx.url+"/product/7", curl)
	if resp.StatusCode != 403 || strings.Contains(body, "upstream") || !strings.Contains(body, `action="/.bulwark/verify"`) ||
		!strings.Contains(body, `name="return" value="/product/7"`) {
		t.Fatalf("challenge for curl: %d %q", resp.StatusCode, body)
	}
	resp, body = get(t, fx.url+"/api/cart", map[string]string{"Accept": "application/json"})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "30" || !strings.Contains(body, `"challenge":"/.bulwark/challenge?return=%2Fapi%2Fcart"`) {
		t.Fatalf("challenge for API: %d %s %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	// Every request above was published as an event, with its status.
	statuses := map[uint32]int{}
	fx.events.mu.Lock()
	for _, e := range fx.events.got {
		statuses[e.GetStatus()]++
		if e.GetClientIp() != "127.0.0.1" || e.GetSource() != "gate" {
			t.Errorf("event %v", e)
		}
	}
	fx.events.mu.Unlock()
	if statuses[200] != 2 || statuses[403] != 2 || statuses[429] != 1 {
		t.Fatalf("event statuses %v", statuses)
	}
}

var tokenRe = regexp.MustCompile(`name="token" value="([^"]+)"`)
var nonceRe = regexp.MustCompile(`var NONCE="([0-9a-f]+)",BITS=(\d+)`)

// solve answers a challenge page the way the page's script does.
func solve(t testing.TB, fx *fixture, page, ret string) *http.Response {
	t.Helper()
	tok, nm := tokenRe.FindStringSubmatch(page), nonceRe.FindStringSubmatch(page)
	if tok == nil || nm == nil {
		t.Fatalf("no challenge on the page:\n%s", page)
	}
	var bits int
	fmt.Sscan(nm[2], &bits)
	var n uint64
	for ; ; n++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s:%d", nm[1], n)))
		z := 0
		for _, b := range h {
			if b == 0 {
				z += 8
				continue
			}
			for b&0x80 == 0 {
				z++
				b <<= 1
			}
			break
		}
		if z >= bits {
			break
		}
	}
	form := url.Values{"token": {strings.ReplaceAll(tok[1], "&#43;", "+")}, "return": {ret}, "counter": {fmt.Sprint(n)},
		"env": {`{"wd":false,"ua":"` + browserUA + `","langs":2,"scr":[1280,800],"missing":[]}`}}
	req, _ := http.NewRequest(http.MethodPost, fx.url+challenge.PathVerify, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", browserUA)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestChallengePassThroughGate(t *testing.T) {
	fx := startGate(t, upstream, nil)
	_ = fx.table.Apply("ip:127.0.0.1", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 72})
	hdr := map[string]string{"User-Agent": browserUA, "Accept": "text/html"}
	_, page := get(t, fx.url+"/cart", hdr)
	resp := solve(t, fx, page, "/cart")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/cart" {
		t.Fatalf("verify: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == challenge.CookieName {
			cookie = c.Value
		}
	}
	hdr["Cookie"] = challenge.CookieName + "=" + cookie
	resp, body := get(t, fx.url+"/cart", hdr)
	if resp.StatusCode != 200 || body != "upstream GET /cart action=ALLOW clearance=passed xff=127.0.0.1" {
		t.Fatalf("cleared: %d %q", resp.StatusCode, body)
	}
	// Another user agent with the same cookie is challenged again.
	hdr["User-Agent"] = "python-requests/2.31"
	if resp, _ = get(t, fx.url+"/cart", hdr); resp.StatusCode != 403 {
		t.Fatalf("other UA: %d", resp.StatusCode)
	}
	// A BLOCK is never cleared.
	hdr["User-Agent"] = browserUA
	_ = fx.table.Apply("ip:127.0.0.1", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 95})
	if resp, _ = get(t, fx.url+"/cart", hdr); resp.StatusCode != 403 {
		t.Fatalf("block with clearance: %d", resp.StatusCode)
	}
	kinds := map[eventpb.FeedbackKind]int{}
	fx.feedback.mu.Lock()
	for _, f := range fx.feedback.got {
		kinds[f.GetKind()]++
	}
	fx.feedback.mu.Unlock()
	if kinds[eventpb.FeedbackKind_CHALLENGE_ISSUED] != 2 || kinds[eventpb.FeedbackKind_CHALLENGE_PASSED] != 1 {
		t.Fatalf("feedback %v", kinds)
	}
}

func TestTrustedProxies(t *testing.T) {
	f := func(trusted string, wantStatus int) {
		t.Helper()
		fx := startGate(t, upstream, func(c *Config) { c.TrustedProxies = trusted })
		_ = fx.table.Apply("ip:203.0.113.7", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 95})
		resp, _ := get(t, fx.url+"/", map[string]string{"X-Forwarded-For": "203.0.113.7"})
		if resp.StatusCode != wantStatus {
			t.Fatalf("trusted %q: %d, want %d", trusted, resp.StatusCode, wantStatus)
		}
	}
	f("", 200)            // default: X-Forwarded-For from anyone is ignored
	f("127.0.0.0/8", 403) // from a trusted proxy it names the client
}

func TestStreamingPassesThrough(t *testing.T) {
	release := make(chan struct{})
	fx := startGate(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: second\n\n")
	}), nil)
	resp, err := http.Get(fx.url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	// The first event arrives while the upstream is still holding the
	// response open: the gate does not buffer it.
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("%q %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: second") {
		t.Fatalf("rest %q", rest)
	}
}

func TestWebSocketUpgradePassesThrough(t *testing.T) {
	fx := startGate(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want an upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		// Echo one line: the bytes after the upgrade flow both ways.
		line, _ := brw.ReadString('\n')
		fmt.Fprint(brw, "echo: "+line)
		brw.Flush()
	}), nil)
	conn, err := net.Dial("tcp", fx.g.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: shop\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprint(conn, "hello\n")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: hello\n" {
		t.Fatalf("%q %v", line, err)
	}
}

func TestLargeUploadPassesThrough(t *testing.T) {
	fx := startGate(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	}), nil)
	const size = 64 << 20
	h := sha256.New()
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 1<<20)
		for i := 0; i < size/len(buf); i++ {
			for j := range buf {
				buf[j] = byte(i + j)
			}
			h.Write(buf)
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
		pw.Close()
	}()
	resp, err := http.Post(fx.url+"/upload", "application/octet-stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("%d %s", size, hex.EncodeToString(h.Sum(nil))); string(b) != want {
		t.Fatalf("upstream got %q, want %q", b, want)
	}
}

func TestConfigValidate(t *testing.T) {
	base := Config{Upstream: "http://127.0.0.1:3000", Addr: "127.0.0.1:8080", MetricsAddr: "127.0.0.1:8487",
		ClientIPHeader: "X-Forwarded-For", FailMode: "open", RetryAfter: time.Second, MaxIdleConnsPerHost: 1, ShutdownTimeout: time.Second}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(*Config) {}, ""},
		{func(c *Config) { c.Upstream = "" }, "BULWARK_GATE_UPSTREAM"},
		{func(c *Config) { c.Upstream = "127.0.0.1:3000" }, "BULWARK_GATE_UPSTREAM"},
		{func(c *Config) { c.Addr = "8080" }, "BULWARK_GATE_ADDR"},
		{func(c *Config) { c.TrustedProxies = "10.0.0.0/33" }, "BULWARK_GATE_TRUSTED_PROXIES"},
		{func(c *Config) { c.FailMode = "maybe" }, "BULWARK_GATE_FAIL_MODE"},
	} {
		cfg := base
		c.mod(&cfg)
		err := cfg.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", cfg, err, c.want)
		}
	}
}

// TestEventsReachKafka: with no sink given, the gate publishes a request
// event per request to the requests topic of a real (embedded) broker. The
// records outlive their requests, whose contexts end with the answer.
func TestEventsReachKafka(t *testing.T) {
	b := kafkatest.Start(t)
	up := httptest.NewServer(shop)
	t.Cleanup(up.Close)
	cfg := Config{Upstream: up.URL, Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", ClientIPHeader: "X-Forwarded-For",
		FailMode: "open", RetryAfter: 30 * time.Second, MaxIdleConnsPerHost: 8, ShutdownTimeout: 5 * time.Second, PublishEvents: true}
	g, err := New(cfg, Deps{Kafka: kafkatest.Config(b), Challenge: challengeConfig(), Keys: challenge.RandomKeys(),
		Registerer: prometheus.NewRegistry(), Table: verdicttable.New(), Feedback: newSink[*eventpb.Feedback]()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	for i := range 5 {
		resp, err := http.Get(fmt.Sprintf("http://%s/product/%d", g.Addr(), i))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	recs := kafkatest.ReadAll(t, b, kafkatest.Config(b).Topics.Requests, 5, 20*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var e eventpb.RequestEvent
	if err := proto.Unmarshal(recs[0].Value, &e); err != nil || e.GetSource() != "gate" || e.GetClientIp() != "127.0.0.1" {
		t.Fatalf("event %v (%v)", &e, err)
	}
}
