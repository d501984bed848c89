package features_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

const browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"

// req is one request of a test, with defaults for what it does not set.
type req struct {
	at                  time.Duration
	method, path, query string
	status              uint32
	ua, referer         string
	al                  *string
	session, ip         uint64
	cdn                 uint8
}

func (r req) obs(c *features.Classifier) features.Obs {
	if r.method == "" {
		r.method = "GET"
	}
	if r.path == "" {
		r.path = "/"
	}
	if r.status == 0 {
		r.status = 200
	}
	o := features.Obs{
		T:        t0.Add(r.at).UnixNano(),
		Flags:    c.Request(r.method, r.path, r.query, r.referer, r.al),
		Status:   r.status,
		PathHash: xxhash.Sum64String(r.path),
		UAHash:   features.HashUA(r.ua),
		Session:  r.session,
		IP:       r.ip,
		CDNBot:   r.cdn,
	}
	o.UA = c.UA(r.ua, o.UAHash)
	o.ID, o.HasID = features.NumericID(r.path)
	return o
}

// behaviour runs reqs through an ip: subject's state and returns its features
// at the time of the last request.
func behaviour(reqs []req) features.Vector {
	c := features.NewClassifier(scoring.DefaultConfig().Lists())
	var b features.Behaviour
	var x features.IPExtra
	for _, r := range reqs {
		o := r.obs(c)
		x.Update(&o, b.Last)
		b.Update(&o)
	}
	var v features.Vector
	b.Compute(b.Last, &v)
	x.Compute(b.Last, b.Last, &v)
	return v
}

// n makes count requests, the i-th from f(i), spaced every step.
func n(count int, step time.Duration, f func(i int) req) []req {
	out := make([]req, count)
	for i := range out {
		r := req{ua: browser, referer: "https://shop.example/"}
		if f != nil {
			r = f(i)
			if r.ua == "" && r.method != "keep-empty-ua" {
				r.ua = browser
			}
		}
		r.at += time.Duration(i) * step
		out[i] = r
	}
	return out
}

func cat(parts ...[]req) []req {
	var out []req
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestFeatures(t *testing.T) {
	f := func(name string, id features.ID, reqs []req, want, tol float64) {
		t.Helper()
		v := behaviour(reqs)
		got, ok := v.Get(id)
		if math.IsNaN(want) {
			if ok {
				t.Errorf("%s: %s = %v, want absent", name, id, got)
			}
			return
		}
		if !ok || math.Abs(got-want) > tol {
			t.Errorf("%s: %s = %v (present %v), want %v ± %v", name, id, got, ok, want, tol)
		}
	}
	absent := math.NaN()
	page := func(i int) req { return req{path: fmt.Sprintf("/p/%d", i*7), referer: "x"} }
	asset := func(i int) req { return req{path: fmt.Sprintf("/s/%d.css", i)} }

	f("5/s over 10 s", features.Rate10s, n(50, 200*time.Millisecond, nil), 5, 0.5)
	f("rate_10s forgets after 20 s idle", features.Rate10s, cat(n(50, 100*time.Millisecond, nil), []req{{at: 25 * time.Second, ua: browser}}), 0.1, 0.001)
	f("2/s over 1 min", features.Rate1m, n(120, 500*time.Millisecond, nil), 2, 0.2)
	f("1/s over 10 min", features.Rate10m, n(600, time.Second, nil), 1, 0.11)
	f("1/s over 1 h", features.Rate1h, n(3600, time.Second, nil), 1, 0.17)
	f("30 in one second", features.Burst10s, n(30, 10*time.Millisecond, nil), 30, 0)
	f("regular timing", features.IATCV1m, n(30, 2*time.Second, nil), 0, 0.01)
	f("bursty timing", features.IATCV1m, n(30, 0, func(i int) req {
		return req{at: time.Duration(i/5)*10*time.Second + time.Duration(i%5)*50*time.Millisecond}
	}), 1.5, 1)
	f("a page's same-second assets are not regular timing", features.IATCV1m, cat(n(11, 0, nil), []req{{at: time.Second, ua: browser}}), 2.6, 0.5)
	f("iat needs 8 requests in 1 min", features.IATCV1m, n(5, 2*time.Second, nil), absent, 0)
	f("pages without assets", features.NoAssetShare10m, n(10, time.Second, page), 1, 0)
	f("pages with assets", features.NoAssetShare10m, cat(n(10, time.Second, page), n(30, 300*time.Millisecond, asset)), 0, 0)
	f("asset share needs 5 pages", features.NoAssetShare10m, n(2, time.Second, page), absent, 0)
	f("pages exclude assets", features.Pages10m, cat(n(10, time.Second, page), n(5, time.Second, asset)), 10, 0)
	f("all distinct paths", features.PathDiversity10m, n(40, time.Second, page), 1, 0.05)
	f("four paths revisited", features.PathDiversity10m, n(40, time.Second, func(i int) req { return req{path: fmt.Sprintf("/c/%d", i%4)} }), 0.1, 0.01)
	f("diversity needs 20 pages", features.PathDiversity10m, n(10, time.Second, page), absent, 0)
	f("sequential ids", features.Enum10m, n(20, time.Second, func(i int) req { return req{path: fmt.Sprintf("/product/%d", 1000+i)} }), 19, 0)
	f("random ids", features.Enum10m, n(20, time.Second, func(i int) req { return req{path: fmt.Sprintf("/product/%d", 1000+i*37)} }), 0, 0)
	f("deep pagination", features.Enum10m, n(5, time.Second, func(i int) req { return req{path: "/list", query: fmt.Sprintf("cat=3&page=%d", 25+i*5)} }), 5, 0)
	f("shallow pagination", features.Enum10m, n(5, time.Second, func(i int) req { return req{path: "/list", query: fmt.Sprintf("page=%d", 1+i*4)} }), 0, 0)
	f("half 404s", features.Status404Share10m, n(10, time.Second, func(i int) req { return req{status: uint32(200 + 204*(i%2))} }), 0.5, 0)
	f("failed logins", features.LoginFailures1m, n(5, time.Second, func(int) req { return req{method: "POST", path: "/login", status: 401} }), 5, 0)
	f("failed logins 10m", features.LoginFailures10m, n(12, 30*time.Second, func(int) req { return req{method: "POST", path: "/account/login", status: 403} }), 12, 0)
	f("401 elsewhere is not a login failure", features.LoginFailures1m, n(5, time.Second, func(int) req { return req{path: "/api/orders", status: 401} }), 0, 0)
	f("429s", features.Status429_10m, n(3, time.Second, func(int) req { return req{status: 429} }), 3, 0)
	f("sensitive paths", features.SensitiveHits10m, cat([]req{{path: "/.env", ua: browser}, {path: "/wp-login.php", ua: browser, at: time.Second}, {path: "/shop", ua: browser, at: 2 * time.Second}}), 2, 0)
	f("checkout POSTs", features.PostSensitive1m, n(4, time.Second, func(int) req { return req{method: "POST", path: "/checkout/pay"} }), 4, 0)
	f("checkout GETs", features.PostSensitive1m, n(4, time.Second, func(int) req { return req{path: "/checkout"} }), 0, 0)
	f("tool UA", features.UATool, n(1, 0, func(int) req { return req{ua: "python-requests/2.31"} }), 1, 0)
	f("browser is no tool", features.UATool, n(1, 0, nil), 0, 0)
	f("headless UA", features.UAHeadless, n(1, 0, func(int) req { return req{ua: "Mozilla/5.0 (X11) HeadlessChrome/120.0"} }), 1, 0)
	f("empty UA", features.UAEmpty, n(1, 0, func(int) req { return req{method: "keep-empty-ua"} }), 1, 0)
	f("malformed UA", features.UAMalformed, n(1, 0, func(int) req { return req{ua: "hello"} }), 1, 0)
	f("malformed UA: Mozilla without platform", features.UAMalformed, n(1, 0, func(int) req { return req{ua: "Mozilla/5.0"} }), 1, 0)
	f("claimed crawler", features.UACrawlerClaimed, n(1, 0, func(int) req {
		return req{ua: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
	}), 1, 0)
	f("UA churn", features.UACount10m, n(5, time.Second, func(i int) req { return req{ua: fmt.Sprintf("Mozilla/5.0 (X11) Firefox/%d.0", 100+i)} }), 5, 1)
	f("half the pages without referer", features.RefererMissingShare10m, n(10, time.Second, func(i int) req {
		r := page(i)
		if i%2 == 0 {
			r.referer = ""
		}
		return r
	}), 0.5, 0)
	empty, lang := "", "de-DE"
	f("accept-language missing", features.AcceptLanguageMissingShare10m, n(10, time.Second, func(i int) req {
		if i < 4 {
			return req{al: &empty}
		}
		return req{al: &lang}
	}), 0.4, 0)
	f("accept-language not logged", features.AcceptLanguageMissingShare10m, n(10, time.Second, nil), absent, 0)
	f("sessions of an IP", features.IPSessions10m, n(6, time.Second, func(i int) req { return req{session: uint64(i%3 + 1)} }), 3, 0.5)
	f("CDN bot score", features.CDNBotScore, n(1, 0, func(int) req { return req{cdn: 5} }), 5, 0)
	f("no CDN score", features.CDNBotScore, n(1, 0, nil), absent, 0)
}

func TestNet(t *testing.T) {
	c := features.NewClassifier(scoring.DefaultConfig().Lists())
	var net features.Net
	ips := map[uint64]*features.Behaviour{}
	for i := 0; i < 30; i++ {
		ip := uint64(i%10 + 1)
		r := req{at: time.Duration(i) * time.Second, ua: browser, path: fmt.Sprintf("/p/%d", i), ip: ip}
		if ip > 4 && i%2 == 0 { // IPs 5..10 load assets too: people
			r.path = "/s/app.js"
		}
		o := r.obs(c)
		b := ips[ip]
		if b == nil {
			b = &features.Behaviour{}
			ips[ip] = b
		}
		b.Update(&o)
		net.Update(&o, b.Alike(b.Last))
	}
	var v features.Vector
	net.Compute(net.Last, &v)
	if got, _ := v.Get(features.NetIPs10m); got < 9 || got > 12 { // linear counting estimates
		t.Errorf("net_ips_10m = %v, want about 10", got)
	}
	// IPs 1..4 fetch only pages; 5..10 alternate (odd IPs never see even i)
	if got, _ := v.Get(features.NetAlikeIPs10m); got < 4 || got > 7 {
		t.Errorf("net_alike_ips_10m = %v, want 4..7", got)
	}
}

func TestNumericID(t *testing.T) {
	f := func(path string, want uint32, ok bool) {
		t.Helper()
		got, gotOK := features.NumericID(path)
		if got != want || gotOK != ok {
			t.Errorf("NumericID(%q) = %d, %v; want %d, %v", path, got, gotOK, want, ok)
		}
	}
	f("/product/12345", 12345, true)
	f("/product/12345/", 12345, true)
	f("/item-77", 77, true)
	f("/about", 0, false)
	f("/p/12345678901", 0, false)
	f("", 0, false)
}

func FuzzNumericID(f *testing.F) {
	for _, s := range []string{"/product/1", "/x-99/", "", "/", "/1234567890", "/a/b/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		id, ok := features.NumericID(path)
		if !ok && id != 0 {
			t.Fatalf("id %d without ok", id)
		}
	})
}

func FuzzClassify(f *testing.F) {
	f.Add("GET", "/product/1", "page=30", "https://x/", "Mozilla/5.0 (X11) Firefox/1")
	f.Add("POST", "/login", "", "", "curl/8")
	f.Add("", "", "&=&page=&p=99999999999", "-", "\x00\xff")
	c := features.NewClassifier(scoring.DefaultConfig().Lists())
	f.Fuzz(func(t *testing.T, method, path, query, referer, ua string) {
		c.Request(method, path, query, referer, &ua)
		c.UA(ua, features.HashUA(ua))
	})
}
