package challenge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// recorder is a Sink that keeps what it is given.
type recorder struct {
	mu  sync.Mutex
	got []*eventpb.Feedback
}

func (r *recorder) Publish(_ context.Context, f *eventpb.Feedback) {
	r.mu.Lock()
	r.got = append(r.got, f)
	r.mu.Unlock()
}

func (r *recorder) kinds() []eventpb.FeedbackKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []eventpb.FeedbackKind
	for _, f := range r.got {
		out = append(out, f.Kind)
	}
	return out
}

func (r *recorder) last() *eventpb.Feedback {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[len(r.got)-1]
}

type fixture struct {
	h    *Handler
	sink *recorder
	now  time.Time
	// action and score the verdict function answers.
	action eventpb.Action
	score  float64
}

func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	fx := &fixture{sink: &recorder{}, now: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), action: eventpb.Action_CHALLENGE, score: 72}
	cfg := Config{ClearanceTTL: time.Hour, TokenTTL: 5 * time.Minute, Provider: "builtin", MinScore: 0.5, VerifyTimeout: time.Second, VerifyAttempts: 2}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(Options{
		Config: cfg, Keys: mustKeys(t, "k1:0123456789abcdef0123"), Feedback: fx.sink, Source: "test",
		ClientIP: func(r *http.Request) netip.Addr { ap, _ := netip.ParseAddrPort(r.RemoteAddr); return ap.Addr() },
		Verdict: func(netip.Addr, *http.Request) (eventpb.Action, float64, string) {
			return fx.action, fx.score, "ladder"
		},
		Registerer: prometheus.NewRegistry(),
		Now:        func() time.Time { return fx.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	fx.h = h
	return fx
}

var tokenRe = regexp.MustCompile(`name="token" value="([^"]+)"`)

// pageToken is the token a page carries, parsed, and as written.
type pageToken struct {
	token
	raw string
}

// page GETs the challenge page as a browser at addr would.
func (fx *fixture) page(t testing.TB, addr, ret string) (*httptest.ResponseRecorder, pageToken) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, PathChallenge+"?return="+url.QueryEscape(ret), nil)
	r.RemoteAddr = addr + ":5000"
	r.Header.Set("User-Agent", testUA)
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	m := tokenRe.FindStringSubmatch(w.Body.String())
	if m == nil {
		return w, pageToken{}
	}
	tok, err := parseToken(fx.h.keys, strings.ReplaceAll(m[1], "&#43;", "+"))
	if err != nil {
		t.Fatalf("token on the page: %v", err)
	}
	return w, pageToken{tok, m[1]}
}

func humanEnv(ua string) string {
	b, _ := json.Marshal(browserEnv{UA: ua, Languages: 2, Screen: [2]int{1280, 800}})
	return string(b)
}

// answer POSTs a verify form.
func (fx *fixture) answer(addr, ua string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, PathVerify, strings.NewReader(form.Encode()))
	r.RemoteAddr = addr + ":5000"
	r.Header.Set("User-Agent", ua)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	return w
}

func solved(tok pageToken, ret string) url.Values {
	return url.Values{
		"token": {tok.raw}, "return": {ret}, "env": {humanEnv(testUA)},
		"counter": {itoa(solvePoW(tok.nonceHex(), tok.Level.Bits()))},
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestPassSetsClearanceAndRedirects(t *testing.T) {
	fx := newFixture(t, nil)
	w, tok := fx.page(t, "203.0.113.7", "/cart?step=2")
	if w.Code != http.StatusOK || tok.Level != LevelLight {
		t.Fatalf("page: %d, level %v", w.Code, tok.Level)
	}
	body := w.Body.String()
	for _, want := range []string{`<html lang="en">`, `role="status"`, "<noscript>", `action="/.bulwark/verify"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "src=") {
		t.Error("page loads an external asset")
	}
	t.Logf("page: %d bytes", len(body))
	if len(body) > 12<<10 {
		t.Errorf("page is %d bytes; want it small", len(body))
	}
	fx.now = fx.now.Add(800 * time.Millisecond)
	w = fx.answer("203.0.113.7", testUA, solved(tok, "/cart?step=2"))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/cart?step=2" {
		t.Fatalf("verify: %d %s %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	ck := w.Result().Cookies()
	if len(ck) != 1 || ck[0].Name != CookieName || !ck[0].Secure || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v", ck)
	}
	if _, err := fx.h.Verifier().Verify(ck[0].Value, netip.MustParseAddr("203.0.113.7"), testUA, fx.now); err != nil {
		t.Fatalf("clearance: %v", err)
	}
	got := fx.sink.kinds()
	if len(got) != 2 || got[0] != eventpb.FeedbackKind_CHALLENGE_ISSUED || got[1] != eventpb.FeedbackKind_CHALLENGE_PASSED {
		t.Fatalf("feedback %v", got)
	}
	pass := fx.sink.last()
	if pass.Subject != "ip:203.0.113.7" || pass.SolveMillis != 800 || pass.Level != 1 || pass.ClearanceExpiresUnixNano == 0 || len(pass.Checks) < 4 {
		t.Fatalf("pass record %+v", pass)
	}

	// The same answer again is a replay.
	w = fx.answer("203.0.113.7", testUA, solved(tok, "/cart?step=2"))
	if w.Code != http.StatusConflict || len(w.Result().Cookies()) != 0 {
		t.Fatalf("replay: %d", w.Code)
	}
	if !strings.Contains(w.Body.String(), PathChallenge+"?return=%2Fcart%3Fstep%3D2") {
		t.Error("the refusal has no way to start again")
	}
}

func TestVerifyRefusals(t *testing.T) {
	type tc struct {
		name       string
		addr, ua   string
		later      time.Duration
		edit       func(url.Values)
		wantStatus int
		wantReason string
	}
	for _, c := range []tc{
		{name: "expired token", later: 6 * time.Minute, wantStatus: 400},
		{name: "other network", addr: "198.51.100.1", wantStatus: 400},
		{name: "other user agent", ua: "curl/8.0", wantStatus: 400},
		{name: "forged token", edit: func(f url.Values) {
			// One character of the payload changed (to another one: the
			// token is random, and its character there is 'x' once in 64).
			t, c := f.Get("token"), "x"
			if t[20] == 'x' {
				c = "y"
			}
			f.Set("token", t[:20]+c+t[21:])
		}, wantStatus: 400},
		{name: "wrong proof of work", edit: func(f url.Values) { f.Set("counter", "0") }, wantStatus: 403, wantReason: "pow"},
		{name: "no proof of work", edit: func(f url.Values) { f.Del("counter") }, wantStatus: 403, wantReason: "pow"},
		{name: "webdriver", edit: func(f url.Values) {
			f.Set("env", `{"wd":true,"ua":"`+testUA+`","langs":1,"scr":[800,600]}`)
		}, wantStatus: 403, wantReason: "webdriver"},
		{name: "headless", ua: "Mozilla/5.0 HeadlessChrome/131.0", edit: func(f url.Values) {
			f.Set("env", humanEnv("Mozilla/5.0 HeadlessChrome/131.0"))
		}, wantStatus: 400},
		{name: "no JavaScript report", edit: func(f url.Values) { f.Del("env") }, wantStatus: 403, wantReason: "environment"},
		{name: "evil return", edit: func(f url.Values) { f.Set("return", "https://evil.example/") }, wantStatus: 400},
		{name: "scheme-relative return", edit: func(f url.Values) { f.Set("return", "//evil.example/") }, wantStatus: 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, nil)
			_, tok := fx.page(t, "203.0.113.7", "/")
			form := solved(tok, "/")
			if c.edit != nil {
				c.edit(form)
			}
			fx.now = fx.now.Add(c.later + time.Second)
			addr, ua := "203.0.113.7", testUA
			if c.addr != "" {
				addr = c.addr
			}
			if c.ua != "" {
				ua = c.ua
			}
			w := fx.answer(addr, ua, form)
			if w.Code != c.wantStatus || len(w.Result().Cookies()) != 0 {
				t.Fatalf("status %d, want %d; cookies %v; %s", w.Code, c.wantStatus, w.Result().Cookies(), w.Body)
			}
			if c.wantReason != "" && !strings.Contains(fx.sink.last().Reason, c.wantReason) {
				t.Fatalf("feedback reason %q, want %q", fx.sink.last().Reason, c.wantReason)
			}
		})
	}
}

func TestHeadlessFails(t *testing.T) {
	fx := newFixture(t, nil)
	ua := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"
	r := httptest.NewRequest(http.MethodGet, PathChallenge, nil)
	r.RemoteAddr = "203.0.113.7:5000"
	r.Header.Set("User-Agent", ua)
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	raw := tokenRe.FindStringSubmatch(w.Body.String())[1]
	tok, _ := parseToken(fx.h.keys, raw)
	form := url.Values{"token": {raw}, "env": {humanEnv(ua)}, "counter": {itoa(solvePoW(tok.nonceHex(), tok.Level.Bits()))}}
	w = fx.answer("203.0.113.7", ua, form)
	if w.Code != http.StatusForbidden || fx.sink.last().Reason != "headless" {
		t.Fatalf("%d %q", w.Code, fx.sink.last().Reason)
	}
}

func TestLevelFollowsVerdict(t *testing.T) {
	fx := newFixture(t, nil)
	for _, c := range []struct {
		action eventpb.Action
		score  float64
		want   Level
	}{
		{eventpb.Action_ALLOW, 0, LevelLight},
		{eventpb.Action_CHALLENGE, 72, LevelLight},
		{eventpb.Action_CHALLENGE, 82, LevelHard},
		{eventpb.Action_CHALLENGE, 88, LevelInteractive},
	} {
		fx.action, fx.score = c.action, c.score
		w, tok := fx.page(t, "203.0.113.7", "/")
		if tok.Level != c.want {
			t.Errorf("%v %.0f: level %v, want %v", c.action, c.score, tok.Level, c.want)
		}
		if c.want == LevelInteractive && !strings.Contains(w.Body.String(), `<button id="b"`) {
			t.Error("interactive page without its button")
		}
	}
	fx.action = eventpb.Action_BLOCK
	w, _ := fx.page(t, "203.0.113.7", "/")
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "Access denied") {
		t.Fatalf("blocked client: %d", w.Code)
	}
}

func TestInteractive(t *testing.T) {
	for _, c := range []struct {
		name string
		ix   string
		want int
	}{
		{"pointer", `{"moves":[400,433,470,512,530],"press":900}`, http.StatusSeeOther},
		{"keyboard", `{"moves":[],"press":2100,"keyhold":95}`, http.StatusSeeOther},
		{"instant press", `{"moves":[1,2,3],"press":20}`, http.StatusForbidden},
		{"fixed interval", `{"moves":[400,410,420,430,440],"press":900}`, http.StatusForbidden},
		{"no moves", `{"moves":[],"press":900}`, http.StatusForbidden},
		{"not pressed", ``, http.StatusForbidden},
		{"garbage", `{"moves":"x"}`, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, nil)
			fx.score = 88
			_, tok := fx.page(t, "203.0.113.7", "/")
			form := solved(tok, "/")
			form.Set("ix", c.ix)
			if w := fx.answer("203.0.113.7", testUA, form); w.Code != c.want {
				t.Fatalf("%d, want %d", w.Code, c.want)
			}
		})
	}
}

func TestAbandoned(t *testing.T) {
	fx := newFixture(t, nil)
	fx.page(t, "203.0.113.7", "/")
	_, answered := fx.page(t, "203.0.113.8", "/")
	fx.now = fx.now.Add(time.Second)
	if w := fx.answer("203.0.113.8", testUA, solved(answered, "/")); w.Code != http.StatusSeeOther {
		t.Fatal(w.Code)
	}
	fx.now = fx.now.Add(6 * time.Minute)
	fx.h.Sweep(context.Background())
	last := fx.sink.last()
	if last.Kind != eventpb.FeedbackKind_CHALLENGE_ABANDONED || last.Subject != "ip:203.0.113.7" {
		t.Fatalf("%+v", last)
	}
	n := 0
	for _, k := range fx.sink.kinds() {
		if k == eventpb.FeedbackKind_CHALLENGE_ABANDONED {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d abandoned, want 1", n)
	}
}

func TestSafeReturn(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/": "/", "/cart?x=1#y": "/cart?x=1#y", "/.bulwark/verify": "/",
		"https://evil.example/": "", "//evil.example/": "", "/\\evil.example": "", "javascript:alert(1)": "",
		"evil.example": "", "/a\r\nSet-Cookie: x": "", "http:/evil": "",
	} {
		got, ok := SafeReturn(in)
		if got != want || ok != (want != "") {
			t.Errorf("SafeReturn(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
}

func TestLanguages(t *testing.T) {
	fx := newFixture(t, nil)
	r := httptest.NewRequest(http.MethodGet, PathChallenge, nil)
	r.Header.Set("Accept-Language", "de-CH,de;q=0.9,en;q=0.5")
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Body)
	if !strings.Contains(string(b), `lang="de"`) || !strings.Contains(string(b), "Einen Moment bitte") {
		t.Fatalf("German page expected:\n%s", b[:200])
	}
}

func TestEndpoints(t *testing.T) {
	fx := newFixture(t, nil)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", PathChallenge, 405}, {"GET", PathVerify, 405}, {"GET", "/.bulwark/nope", 404},
		{"GET", PathChallenge + "?return=https://evil.example/", 400},
	} {
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != c.want || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s, want %d JSON", c.method, c.path, w.Code, w.Header().Get("Content-Type"), c.want)
		}
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark counts the handler's own allocations, not a recorder's buffer.
type discardWriter struct {
	h http.Header
	n int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *discardWriter) WriteString(s string) (int, error) {
	d.n += len(s)
	return len(s), nil
}

// BenchmarkChallengePage is the cost of serving one page (token, the
// pre-rendered page with the visitor's values, the open-challenge record),
// the work behind the page's p99 target; "template" is the same-run
// baseline of executing the page's template for every visitor instead.
func BenchmarkChallengePage(b *testing.B) {
	fx := newFixture(b, nil)
	fx.h.sink = nil
	r := httptest.NewRequest(http.MethodGet, PathChallenge+"?return=/", nil)
	r.Header.Set("User-Agent", testUA)
	b.Run("prerendered", func(b *testing.B) {
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			fx.h.ServeHTTP(w, r)
		}
		b.ReportMetric(float64(w.n)/float64(b.N), "page-bytes")
	})
	b.Run("template", func(b *testing.B) {
		w := &discardWriter{h: http.Header{}}
		lang, s := fx.h.langs.pick("")
		b.ReportAllocs()
		for b.Loop() {
			tok := newToken(netip.MustParseAddr("203.0.113.7"), testUA, LevelLight, fx.now)
			d := pageData{Lang: lang, S: s, Token: tok.encode(fx.h.keys), Return: "/"}
			d.Script = script(tok.nonceHex(), LevelLight.Bits(), false, false, s)
			if err := pageTmpl.Execute(w, d); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(w.n)/float64(b.N), "page-bytes")
	})
}

// TestCleared: the gate's and botguard's check finds the clearance among
// the site's cookies, on any Cookie line, and still refuses a misbound one.
func TestCleared(t *testing.T) {
	fx := newFixture(t, nil)
	ip := netip.MustParseAddr("198.51.100.7")
	ks := fx.h.Verifier().Keys()
	good := NewClearance(ip, testUA, LevelHard, [12]byte{1}, fx.now, time.Hour).Encode(ks)
	f := func(lines []string, ua string, need Level, want bool) {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Cookie"] = lines
		r.Header.Set("User-Agent", ua)
		if got := fx.h.Cleared(r, ip, need); got != want {
			t.Fatalf("Cleared(%q, ua %q, %v) = %v, want %v", lines, ua, need, got, want)
		}
	}
	f([]string{CookieName + "=" + good}, testUA, LevelLight, true)
	f([]string{"session=abc; " + CookieName + "=" + good + "; theme=dark"}, testUA, LevelHard, true)
	f([]string{"session=abc", CookieName + "=" + good}, testUA, LevelLight, true)
	f([]string{CookieName + `="` + good + `"`}, testUA, LevelLight, true)
	f([]string{"x" + CookieName + "=" + good}, testUA, LevelLight, false)
	f([]string{"session=abc"}, testUA, LevelLight, false)
	f(nil, testUA, LevelLight, false)
	f([]string{CookieName + "=" + good}, testUA, LevelInteractive, false)
	f([]string{CookieName + "=" + good}, "curl/8.5.0", LevelLight, false)
	f([]string{CookieName + "=" + good[:len(good)-2] + "AA"}, testUA, LevelLight, false)
}

// BenchmarkHandlerCleared is the gate's and botguard's clearance check of
// a returning visitor (a net/http request with the site's cookies).
func BenchmarkHandlerCleared(b *testing.B) {
	fx := newFixture(b, nil)
	ip := netip.MustParseAddr("198.51.100.7")
	cookie := NewClearance(ip, testUA, LevelLight, [12]byte{1}, fx.now, time.Hour).Encode(fx.h.Verifier().Keys())
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "session=abc123; _ga=GA1.1.1234567890.1733212345; theme=dark; "+CookieName+"="+cookie)
	r.Header.Set("User-Agent", testUA)
	b.ReportAllocs()
	stop := testkit.ThreadCPUPerOp(b)
	for b.Loop() {
		if !fx.h.Cleared(r, ip, LevelLight) {
			b.Fatal("refused")
		}
	}
	stop()
}
