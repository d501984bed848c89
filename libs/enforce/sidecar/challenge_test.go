package sidecar_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// startWithChallenges is start with EnableChallenges called before Run.
func startWithChallenges(t testing.TB, kcfg kafka.Config) (*sidecar.Sidecar, *challenge.Keys) {
	t.Helper()
	cfg := sidecar.DefaultConfig()
	cfg.Addr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	reg := prometheus.NewRegistry()
	s, err := sidecar.New(cfg, kcfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	keys := challenge.RandomKeys()
	if _, err := s.EnableChallenges(challengeConfig(), keys, nil, reg); err != nil {
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
	waitReady(t, s)
	return s, keys
}

func clearance(keys *challenge.Keys, ip string, level challenge.Level, ua string) string {
	return challenge.NewClearance(netip.MustParseAddr(ip), ua, level, [12]byte{7}, time.Now(), time.Hour).Encode(keys)
}

func TestAuthzHonoursClearance(t *testing.T) {
	br := kafkatest.Start(t)
	s, keys := startWithChallenges(t, kafkatest.Config(br))
	tb := s.Table()
	_ = tb.Apply("ip:203.0.113.7", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 72})
	_ = tb.Apply("ip:203.0.113.8", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 88})
	_ = tb.Apply("ip:203.0.113.9", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 95})
	other := challenge.RandomKeys()
	for _, c := range []struct {
		name, ip, cookie, ua string
		want                 int
	}{
		{"no cookie", "203.0.113.7", "", browserUA, 401},
		{"valid clearance", "203.0.113.7", clearance(keys, "203.0.113.7", challenge.LevelLight, browserUA), browserUA, 204},
		{"same /24", "203.0.113.7", clearance(keys, "203.0.113.50", challenge.LevelLight, browserUA), browserUA, 204},
		{"level too low", "203.0.113.8", clearance(keys, "203.0.113.8", challenge.LevelLight, browserUA), browserUA, 401},
		{"interactive level", "203.0.113.8", clearance(keys, "203.0.113.8", challenge.LevelInteractive, browserUA), browserUA, 204},
		{"BLOCK is never cleared", "203.0.113.9", clearance(keys, "203.0.113.9", challenge.LevelInteractive, browserUA), browserUA, 403},
		{"forged", "203.0.113.7", clearance(other, "203.0.113.7", challenge.LevelLight, browserUA), browserUA, 401},
		{"other network", "203.0.113.7", clearance(keys, "198.51.100.7", challenge.LevelLight, browserUA), browserUA, 401},
		{"other user agent", "203.0.113.7", clearance(keys, "203.0.113.7", challenge.LevelLight, browserUA), "curl/8.5.0", 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/v1/authz", nil)
			req.Header.Set("X-Real-IP", c.ip)
			req.Header.Set("User-Agent", c.ua)
			if c.cookie != "" {
				req.Header.Set("Cookie", "session=abc; "+challenge.CookieName+"="+c.cookie+"; theme=dark")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("sidecar server: %d, want %d", resp.StatusCode, c.want)
			}
			if (c.want == 204) != (resp.Header.Get(sidecar.HeaderClearance) == "passed") {
				t.Fatalf("X-Bulwark-Clearance %q", resp.Header.Get(sidecar.HeaderClearance))
			}
		})
	}
}

func TestSidecarServesChallengePages(t *testing.T) {
	br := kafkatest.Start(t)
	s, _ := startWithChallenges(t, kafkatest.Config(br))
	_ = s.Table().Apply("ip:203.0.113.8", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 88})
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/.bulwark/challenge?return=%2Fcart", nil)
	req.Header.Set("X-Real-IP", "203.0.113.8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `action="/.bulwark/verify"`) || !strings.Contains(string(b), `<button id="b"`) {
		t.Fatalf("%d\n%s", resp.StatusCode, b)
	}
	resp, err = http.Post("http://"+s.Addr()+"/.bulwark/verify", "application/x-www-form-urlencoded", strings.NewReader("token=forged&return=%2F"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("forged token: %d", resp.StatusCode)
	}
}

// BenchmarkAuthzHandlerCleared is BenchmarkAuthzHandler for a CHALLENGEd
// client whose clearance lets it through; BenchmarkAuthzHandlerChallenged,
// the same client without its cookie, is the baseline: the difference is
// what verifying a clearance adds (budget: 200 ns). Both requests are read
// from the same bytes as the server reads them, apart from the clearance:
// the same client address, user agent and site cookies (a visitor without a
// clearance still sends the site's cookies, and the sidecar looks for the
// clearance among them), and the same verdict.
func BenchmarkAuthzHandlerCleared(b *testing.B)    { benchChallenged(b, true) }
func BenchmarkAuthzHandlerChallenged(b *testing.B) { benchChallenged(b, false) }

// siteCookies are the app's cookies a browser sends with every request.
const siteCookies = "session=abc123; _ga=GA1.1.1234567890.1733212345; theme=dark"

func benchChallenged(b *testing.B, withCookie bool) {
	br := kafkatest.Start(b)
	s, keys := startWithChallenges(b, kafkatest.Config(br))
	_ = s.Table().Apply("ip:203.0.113.7", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 72})
	h := s.FastHandler()
	cookie, want := siteCookies, http.StatusUnauthorized
	if withCookie {
		cookie += "; " + challenge.CookieName + "=" + clearance(keys, "203.0.113.7", challenge.LevelLight, browserUA)
		want = http.StatusNoContent
	}
	// Read, not built with Header.Set: fasthttp parses a Cookie header set
	// by hand at once, while the server leaves a read one as it came, and
	// fasthttp keeps what a handler had it parse (the cookies) with the
	// request: each request starts from a copy of the header as read.
	raw := "GET /v1/authz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Real-IP: 203.0.113.7\r\nUser-Agent: " + browserUA +
		"\r\nAccept: text/html\r\nCookie: " + cookie + "\r\n\r\n"
	var read fasthttp.Request
	if err := read.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		b.Fatal(err)
	}
	var c fasthttp.RequestCtx
	c.Init(&read, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	b.ReportAllocs()
	stop := testkit.ThreadCPUPerOp(b)
	for b.Loop() {
		read.Header.CopyTo(&c.Request.Header)
		c.Response.Reset()
		h(&c)
	}
	stop()
	if got := c.Response.StatusCode(); got != want {
		b.Fatalf("status %d, want %d", got, want)
	}
}

func challengeConfig() challenge.Config {
	return challenge.Config{ClearanceTTL: time.Hour, TokenTTL: time.Minute, Provider: "builtin", MinScore: 0.5, VerifyTimeout: time.Second, VerifyAttempts: 1}
}

// solveThroughNginx is a visitor challenged by nginx's auth_request: it
// gets the sidecar's page in place of the one it asked for, answers it
// through nginx, and with the clearance reaches the app.
func solveThroughNginx(t *testing.T, client *http.Client, base, ip string) {
	t.Helper()
	do := func(req *http.Request) (*http.Response, string) {
		req.Header.Set("X-Forwarded-For", ip)
		req.Header.Set("User-Agent", browserUA)
		resp, err := client.Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if client.Transport == nil {
		client.Transport = http.DefaultTransport
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/some/page?x=1", nil)
	_, page := do(req)
	p, err := challenge.ParsePage([]byte(page))
	if err != nil || p.Return != "/some/page?x=1" {
		t.Fatalf("no challenge for /some/page?x=1 (%v):\n%s", err, page)
	}
	form := p.Answer(challenge.BrowserReport{UserAgent: browserUA, Languages: 2, Screen: [2]int{1280, 800}}, challenge.Interaction{})
	req, _ = http.NewRequest(http.MethodPost, base+challenge.PathVerify, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ := do(req)
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == challenge.CookieName {
			cookie = c.Value
		}
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/some/page?x=1" || cookie == "" {
		t.Fatalf("verify through nginx: %d %q cookie %q", resp.StatusCode, resp.Header.Get("Location"), cookie)
	}
	req, _ = http.NewRequest(http.MethodGet, base+"/some/page?x=1", nil)
	req.Header.Set("Cookie", challenge.CookieName+"="+cookie)
	resp, body := do(req)
	if resp.StatusCode != 200 || body != "upstream page action=ALLOW" {
		t.Fatalf("with the clearance through nginx: %d %q", resp.StatusCode, body)
	}
}

// BenchmarkChallengePageServed sends challenge-page requests at a fixed
// 1,000 per second (open loop) to the sidecar's own server and reports the
// latency's p99 (target: 5 ms). Run it with -benchtime 2000x.
func BenchmarkChallengePageServed(b *testing.B) {
	br := kafkatest.Start(b)
	s, _ := startWithChallenges(b, kafkatest.Config(br))
	u := "http://" + s.Addr() + challenge.PathChallenge + "?return=%2Fcart"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("User-Agent", browserUA)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat[i] = time.Since(start)
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

func TestExtAuthzHonoursClearance(t *testing.T) {
	br := kafkatest.Start(t)
	s, keys := startWithChallenges(t, kafkatest.Config(br))
	_ = s.Table().Apply("ip:203.0.113.7", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 72})
	_ = s.Table().Apply("ip:203.0.113.9", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 95})
	conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	f := func(ip, cookie, ua string, want codes.Code) {
		t.Helper()
		h := map[string]string{"user-agent": ua}
		if cookie != "" {
			h["cookie"] = "a=b; " + challenge.CookieName + "=" + cookie
		}
		resp, err := client.Check(context.Background(), checkRequest(ip, h))
		if err != nil {
			t.Fatal(err)
		}
		if got := codes.Code(resp.GetStatus().GetCode()); got != want {
			t.Fatalf("%s cookie=%v ua=%s: %v, want %v", ip, cookie != "", ua, got, want)
		}
	}
	f("203.0.113.7", "", browserUA, codes.Unauthenticated)
	f("203.0.113.7", clearance(keys, "203.0.113.7", challenge.LevelLight, browserUA), browserUA, codes.OK)
	f("203.0.113.7", clearance(keys, "203.0.113.7", challenge.LevelLight, browserUA), "curl/8", codes.Unauthenticated)
	f("203.0.113.7", clearance(challenge.RandomKeys(), "203.0.113.7", challenge.LevelLight, browserUA), browserUA, codes.Unauthenticated)
	f("203.0.113.9", clearance(keys, "203.0.113.9", challenge.LevelInteractive, browserUA), browserUA, codes.PermissionDenied)

	// A page view is sent to the challenge page; an API call gets the 401.
	req := checkRequest("203.0.113.7", map[string]string{"accept": "text/html,*/*;q=0.8", "user-agent": browserUA})
	req.Attributes.Request.Http.Path = "/cart?x=1"
	resp, err := client.Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var loc string
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		if h.GetHeader().GetKey() == "location" {
			loc = h.GetHeader().GetValue()
		}
	}
	if resp.GetDeniedResponse().GetStatus().GetCode() != 302 || loc != "/.bulwark/challenge?return=%2Fcart%3Fx%3D1" {
		t.Fatalf("page view: %v %q", resp.GetDeniedResponse().GetStatus().GetCode(), loc)
	}
	req = checkRequest("203.0.113.7", map[string]string{"accept": "application/json", "user-agent": browserUA})
	if resp, err = client.Check(context.Background(), req); err != nil || resp.GetDeniedResponse().GetStatus().GetCode() != 401 {
		t.Fatalf("API call: %v %v", resp, err)
	}
}
