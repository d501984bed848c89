// Package visitors sends the simulated shop's traffic (libs/devtools/simulate)
// over real HTTP to a site behind bulwark-gate, as the people and bots it
// simulates would: each actor with its own cookie jar, its address in
// X-Forwarded-For (the gate trusts the loopback proxy this driver stands
// for), and the headers its browser or tool sends.
//
// When the gate answers with the challenge page, a person's browser solves
// it (challenge.Page.Answer: the proof of work and the browser report
// page.js sends, after the second or so a page takes to load and run) and
// carries on with the clearance cookie; a headless browser runs it too but
// reports its automation and fails; every other bot gives up (the
// challenge counts as abandoned). Some people share their address with a
// bot the gate has challenged and not blocked (a carrier's NAT, a café's
// Wi-Fi), so the summary of `bulwark dev` shows challenges both failed and
// passed.
package visitors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/devtools/shop"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
)

// Options of a drive.
type Options struct {
	// Target is the gate's base URL, e.g. http://127.0.0.1:8080.
	Target string
	// Sim is the traffic to send (simulate.LiveRequests paces it).
	Sim simulate.Config
	// MaxInFlight bounds the requests open at once; a request over it is
	// dropped and counted (the machine is slower than the simulated shop).
	MaxInFlight int
	// ShareAddress is the share (0..1) of new people who browse from the
	// address of a bot the gate recently challenged.
	ShareAddress float64
	// SolveDelay is how long a person's browser takes to load and run the
	// challenge page before it submits, at the least (up to twice as long).
	SolveDelay time.Duration
	Log        *slog.Logger
	Registerer prometheus.Registerer
}

// Driver sends simulated visitors to a site.
type Driver struct {
	o      Options
	base   *url.URL
	client *http.Client
	rng    *rand.Rand
	sem    chan struct{}
	m      *metrics

	mu         sync.Mutex
	actors     map[uint64]*visitor
	challenged []string // addresses of bots recently challenged, newest last
	swept      time.Time
}

// visitor is one actor's browser or tool: its cookies, and the address it
// sends from. Its requests are sent one at a time, in order, as a browser
// that is solving a challenge does not load the page's assets meanwhile.
type visitor struct {
	mu    sync.Mutex
	jar   http.CookieJar
	addr  string
	label string
	kind  simulate.Kind
	seen  time.Time
}

// New checks the options and builds a driver.
func New(o Options) (*Driver, error) {
	u, err := url.Parse(o.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("visitors: target %q is not an http(s) URL", o.Target)
	}
	if err := o.Sim.Validate(); err != nil {
		return nil, fmt.Errorf("visitors: %w", err)
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64
	}
	if o.SolveDelay <= 0 {
		o.SolveDelay = 600 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = o.MaxInFlight
	return &Driver{
		o: o, base: u, rng: rand.New(rand.NewPCG(o.Sim.Seed, 0x715170)),
		client: &http.Client{
			Transport: tr,
			Timeout:   15 * time.Second,
			// The simulator makes the requests a redirect leads to itself
			// (POST /login, then GET /account).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		sem:    make(chan struct{}, o.MaxInFlight),
		m:      newMetrics(o.Registerer),
		actors: map[uint64]*visitor{},
	}, nil
}

// Run sends the simulated traffic as it comes due until ctx is done, then
// waits for the requests still open.
func (d *Driver) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	err := simulate.LiveRequests(ctx, d.o.Sim, func(r *simulate.Request) error {
		select {
		case d.sem <- struct{}{}:
		default:
			d.m.dropped.Inc()
			return nil
		}
		v := d.visitor(r)
		req := *r
		wg.Add(1)
		go func() {
			defer func() { <-d.sem; wg.Done() }()
			v.mu.Lock()
			defer v.mu.Unlock()
			d.send(ctx, v, &req)
		}()
		return nil
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// visitor finds or starts the actor's browser.
func (d *Driver) visitor(r *simulate.Request) *visitor {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if now.Sub(d.swept) > time.Minute {
		// Sessions end; their cookies go with them.
		for id, v := range d.actors {
			if now.Sub(v.seen) > 10*time.Minute {
				delete(d.actors, id)
			}
		}
		d.swept = now
	}
	v := d.actors[r.Actor]
	if v == nil {
		jar, _ := cookiejar.New(nil)
		v = &visitor{jar: jar, addr: r.IP.String(), label: simulate.LabelOf(r.Kind), kind: r.Kind}
		if r.Kind == simulate.Human && len(d.challenged) > 0 && d.rng.Float64() < d.o.ShareAddress {
			v.addr = d.challenged[d.rng.IntN(len(d.challenged))]
			d.m.shared.Inc()
		}
		d.actors[r.Actor] = v
	}
	v.seen = now
	return v
}

func (d *Driver) noteChallenged(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if slices.Contains(d.challenged, addr) {
		return
	}
	d.challenged = append(d.challenged, addr)
	if len(d.challenged) > 16 {
		d.challenged = d.challenged[1:]
	}
}

func (d *Driver) forgetChallenged(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.challenged = slices.DeleteFunc(d.challenged, func(a string) bool { return a == addr })
}

// send makes one request and deals with the answer as the actor would.
func (d *Driver) send(ctx context.Context, v *visitor, r *simulate.Request) {
	resp, body, err := d.do(ctx, v, r.Method, r.Target, r, formFor(r))
	if err != nil {
		if ctx.Err() == nil {
			d.m.requests.WithLabelValues(v.label, "error").Inc()
			d.o.Log.Debug("visitor request", "target", r.Target, "err", err)
		}
		return
	}
	outcome := "ok"
	switch {
	case resp.StatusCode == http.StatusForbidden && resp.Header.Get("Content-Type") != "" && strings.Contains(string(body), challenge.PathVerify):
		outcome = "challenged"
	case resp.StatusCode == http.StatusTooManyRequests:
		outcome = "challenged_api"
	case resp.StatusCode == http.StatusForbidden:
		outcome = "blocked"
	}
	d.m.requests.WithLabelValues(v.label, outcome).Inc()
	if outcome == "blocked" {
		// A person sent to this address now would only meet a 403.
		d.forgetChallenged(v.addr)
	}
	if outcome != "challenged" {
		return
	}
	if v.label != simulate.LabelHuman {
		d.noteChallenged(v.addr)
	}
	p, err := challenge.ParsePage(body)
	if err != nil {
		// A third-party widget: only a person with a real browser solves it.
		d.m.challenges.WithLabelValues(v.label, "gave_up").Inc()
		return
	}
	env, ok := report(v, r)
	if !ok {
		d.m.challenges.WithLabelValues(v.label, "gave_up").Inc()
		return
	}
	// The page loads, runs its work and submits; a person on the
	// interactive level first finds and presses the button.
	wait := d.o.SolveDelay + time.Duration(rand.Int64N(int64(d.o.SolveDelay)))
	ix := challenge.Interaction{}
	if p.Interactive {
		ix = interaction()
		wait += time.Duration(ix.Press) * time.Millisecond
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(wait):
	}
	vr, _, err := d.do(ctx, v, http.MethodPost, challenge.PathVerify, r, p.Answer(env, ix))
	if err != nil {
		return
	}
	if vr.StatusCode != http.StatusSeeOther {
		d.m.challenges.WithLabelValues(v.label, "failed").Inc()
		return
	}
	d.m.challenges.WithLabelValues(v.label, "passed").Inc()
	// The browser follows the redirect back to the page it asked for.
	if loc := vr.Header.Get("Location"); strings.HasPrefix(loc, "/") {
		if after, _, err := d.do(ctx, v, http.MethodGet, loc, r, nil); err == nil {
			d.m.requests.WithLabelValues(v.label, "after_pass_"+statusClass(after.StatusCode)).Inc()
		}
	}
}

// report is what the challenge page would find out about the actor's
// browser; ok is false for clients that do not run pages' scripts.
func report(v *visitor, r *simulate.Request) (challenge.BrowserReport, bool) {
	switch {
	case v.label == simulate.LabelHuman:
		return challenge.BrowserReport{UserAgent: r.UA, Languages: 2, Screen: [2]int{1440, 900}}, true
	case v.kind == simulate.Headless:
		// Chromium under automation runs the page and tells on itself.
		return challenge.BrowserReport{WebDriver: true, UserAgent: r.UA, Languages: 0, Screen: [2]int{800, 600}}, true
	}
	return challenge.BrowserReport{}, false
}

// interaction is a person's pointer on the interactive level: a dozen
// moves at uneven intervals, then the press, a second or two in.
func interaction() challenge.Interaction {
	ix := challenge.Interaction{}
	t := 80 + rand.IntN(200)
	for range 8 + rand.IntN(12) {
		ix.Moves = append(ix.Moves, t)
		t += 16 + rand.IntN(90)
	}
	ix.Press = t + 100 + rand.IntN(600)
	return ix
}

// do sends one request from v's browser and reads (up to 1 MiB of) the answer.
func (d *Driver) do(ctx context.Context, v *visitor, method, target string, r *simulate.Request, form url.Values) (*http.Response, []byte, error) {
	u, err := d.base.Parse(target)
	if err != nil {
		return nil, nil, err
	}
	var bodyR io.Reader
	if form != nil {
		bodyR = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bodyR)
	if err != nil {
		return nil, nil, err
	}
	setHeaders(req, v, r, target)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range v.jar.Cookies(u) {
		req.AddCookie(c)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if rc := resp.Cookies(); len(rc) > 0 {
		v.jar.SetCookies(u, rc)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp, body, nil
}

// setHeaders sends what the actor's client sends: a browser's Accept and
// Sec-Fetch-* by what it loads, a tool's bare defaults.
func setHeaders(req *http.Request, v *visitor, r *simulate.Request, target string) {
	req.Header.Set("X-Forwarded-For", v.addr)
	req.Header.Set("User-Agent", r.UA)
	if r.Referer != "" {
		req.Header.Set("Referer", r.Referer)
	}
	if !browserLike(r.UA) {
		req.Header.Set("Accept", "*/*")
		return
	}
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	path, _, _ := strings.Cut(target, "?")
	switch {
	case strings.HasPrefix(path, "/static/") || strings.HasPrefix(path, "/img/") || path == "/favicon.ico":
		req.Header.Set("Accept", "image/avif,image/webp,*/*;q=0.8")
		req.Header.Set("Sec-Fetch-Mode", "no-cors")
	case strings.HasPrefix(path, "/api/"):
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Sec-Fetch-Mode", "cors")
	default:
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
	}
}

func browserLike(ua string) bool { return strings.HasPrefix(ua, "Mozilla/5.0 (") }

// formFor is the body of a simulated POST: the shop's password when the
// actor means to log in (the simulator planned a success), another when
// it guesses or mistypes.
func formFor(r *simulate.Request) url.Values {
	if r.Method != http.MethodPost {
		return nil
	}
	path, _, _ := strings.Cut(r.Target, "?")
	switch path {
	case "/login", "/api/auth/login":
		pw := "guess-" + fmt.Sprint(r.At%1000)
		if r.Status < 400 {
			pw = shop.Password
		}
		return url.Values{"user": {fmt.Sprintf("user%d@example.com", r.Actor%997)}, "password": {pw}}
	}
	return url.Values{}
}

func statusClass(code int) string { return fmt.Sprintf("%dxx", code/100) }
