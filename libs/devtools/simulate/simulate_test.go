package simulate_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// run generates cfg and returns the log and the generator (for labels).
func run(t testing.TB, cfg simulate.Config) ([]byte, *simulate.Generator) {
	t.Helper()
	g, err := simulate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := simulate.Write(context.Background(), g, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), g
}

func shortConfig(seed uint64) simulate.Config {
	cfg := simulate.DefaultConfig()
	cfg.Seed = seed
	cfg.Duration = 20 * time.Minute
	return cfg
}

func TestDeterministic(t *testing.T) {
	f := func(name string, mod func(*simulate.Config)) {
		t.Helper()
		a, b := shortConfig(7), shortConfig(7)
		mod(&a)
		mod(&b)
		outA, genA := run(t, a)
		outB, genB := run(t, b)
		if !bytes.Equal(outA, outB) {
			t.Fatalf("%s: two runs with seed 7 differ", name)
		}
		var la, lb bytes.Buffer
		if err := simulate.WriteLabels(&la, genA.Labels()); err != nil {
			t.Fatal(err)
		}
		if err := simulate.WriteLabels(&lb, genB.Labels()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(la.Bytes(), lb.Bytes()) {
			t.Fatalf("%s: labels of two runs differ", name)
		}
		c := shortConfig(8)
		mod(&c)
		if outC, _ := run(t, c); bytes.Equal(outA, outC) {
			t.Fatalf("%s: seeds 7 and 8 give the same output", name)
		}
	}
	f("nginx", func(*simulate.Config) {})
	f("nginx+request_time", func(c *simulate.Config) { c.RequestTime = true })
	f("cloudflare", func(c *simulate.Config) { c.Format = simulate.Cloudflare })
}

// collect returns every request of a run.
func collect(t *testing.T, cfg simulate.Config) ([]simulate.Request, *simulate.Generator) {
	t.Helper()
	g, err := simulate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		out []simulate.Request
		r   simulate.Request
	)
	for g.Next(&r) {
		out = append(out, r)
	}
	return out, g
}

func TestKindsAndLabels(t *testing.T) {
	cfg := shortConfig(3)
	cfg.Duration = 30 * time.Minute
	reqs, g := collect(t, cfg)
	labels := g.Labels()

	byKind := map[simulate.Kind]int{}
	netOwner := map[netip.Prefix]string{} // /24 or /64 -> label of the first user
	ranges := func(name string) []netip.Prefix {
		data, err := crawlers.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := crawlers.ParseRanges(data)
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	in := func(a netip.Addr, ps []netip.Prefix) bool {
		for _, p := range ps {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	google, bing := ranges("googlebot"), ranges("bingbot")
	var last int64
	for i := range reqs {
		r := &reqs[i]
		if r.At < last {
			t.Fatalf("request %d at %d is before the previous one at %d", i, r.At, last)
		}
		last = r.At
		if r.At < cfg.Start.UnixNano() || r.At >= cfg.Start.Add(cfg.Duration).UnixNano() {
			t.Fatalf("request %d at %s is outside the run", i, r.Time())
		}
		byKind[r.Kind]++
		l, ok := labels[r.IP.String()]
		if !ok {
			t.Fatalf("no label for %s", r.IP)
		}
		if l.Kind != r.Kind || l.Label != simulate.LabelOf(r.Kind) {
			t.Fatalf("%s is labelled %+v but made a %s request", r.IP, l, r.Kind)
		}
		switch r.Kind {
		case simulate.CrawlerGoogle:
			if !in(r.IP, google) {
				t.Fatalf("Googlebot from %s, outside Google's range", r.IP)
			}
		case simulate.CrawlerBing:
			if !in(r.IP, bing) {
				t.Fatalf("bingbot from %s, outside Microsoft's ranges", r.IP)
			}
		case simulate.FakeCrawler:
			if in(r.IP, google) || !strings.Contains(r.UA, "Googlebot") {
				t.Fatalf("fake crawler %s with UA %q", r.IP, r.UA)
			}
		case simulate.Headless:
			if !strings.Contains(r.UA, "HeadlessChrome") {
				t.Fatalf("headless UA %q", r.UA)
			}
		}
		// No bot shares its /24 (/64) with a human: net-level verdicts
		// would otherwise blur what the labels say.
		bits := 64
		if r.IP.Is4() {
			bits = 24
		}
		p, _ := r.IP.Prefix(bits)
		lab := simulate.LabelOf(r.Kind)
		if prev, ok := netOwner[p]; !ok {
			netOwner[p] = lab
		} else if (prev == simulate.LabelBot) != (lab == simulate.LabelBot) && r.Kind != simulate.CrawlerGoogle && r.Kind != simulate.CrawlerBing {
			t.Fatalf("%s: a %s shares %s with a %s", r.IP, lab, p, prev)
		}
	}
	for _, k := range append([]simulate.Kind{simulate.Human, simulate.NATOffice}, simulate.BotKinds...) {
		if byKind[k] < 30 {
			t.Errorf("kind %s made %d requests in 30 minutes, want at least 30", k, byKind[k])
		}
	}
	if byKind[simulate.Human] < byKind[simulate.ScraperFast] {
		t.Errorf("humans made fewer requests (%d) than fast scrapers (%d)", byKind[simulate.Human], byKind[simulate.ScraperFast])
	}
}

// TestBehaviour checks the traits detection relies on, per kind.
func TestBehaviour(t *testing.T) {
	cfg := shortConfig(11)
	cfg.Duration = 40 * time.Minute
	reqs, _ := collect(t, cfg)
	type stats struct{ n, static, images, s401, posts int }
	byIP := map[netip.Addr]*stats{}
	byKind := map[simulate.Kind]*stats{}
	kindOf := map[netip.Addr]simulate.Kind{}
	uas := map[netip.Addr]map[string]bool{}
	humans401 := map[uint64]int{}
	for _, r := range reqs {
		if byIP[r.IP] == nil {
			byIP[r.IP], uas[r.IP] = &stats{}, map[string]bool{}
		}
		if byKind[r.Kind] == nil {
			byKind[r.Kind] = &stats{}
		}
		kindOf[r.IP] = r.Kind
		if r.Kind == simulate.Human && r.Status == 401 {
			humans401[r.Actor]++
		}
		uas[r.IP][r.UA] = true
		for _, s := range []*stats{byIP[r.IP], byKind[r.Kind]} {
			s.n++
			if strings.HasPrefix(r.Target, "/static/") {
				s.static++
			}
			if strings.HasPrefix(r.Target, "/img/") {
				s.images++
			}
			if r.Status == 401 {
				s.s401++
			}
			if r.Method == "POST" {
				s.posts++
			}
		}
	}
	h := byKind[simulate.Human]
	if share := float64(h.static+h.images) / float64(h.n); share < 0.4 {
		t.Errorf("humans: %.2f of requests are assets, want most", share)
	}
	for actor, n := range humans401 {
		if n > 1 {
			t.Errorf("human session %d got %d 401s", actor, n)
		}
	}
	for ip := range byIP {
		if kindOf[ip] == simulate.NATOffice && len(uas[ip]) < 5 {
			t.Errorf("office NAT %s shows %d user agents, want many", ip, len(uas[ip]))
		}
	}
	for k, want := range map[simulate.Kind]func(*stats) bool{
		simulate.ScraperFast:        func(s *stats) bool { return s.static == 0 && s.images == 0 },
		simulate.ScraperSlow:        func(s *stats) bool { return s.static == 0 && s.images == 0 },
		simulate.CredentialStuffing: func(s *stats) bool { return s.s401 > s.n*8/10 },
		simulate.CheckoutBot:        func(s *stats) bool { return s.posts > s.n/3 },
		simulate.Headless:           func(s *stats) bool { return s.static > 0 && s.images == 0 },
		simulate.ProxyPool:          func(s *stats) bool { return s.static == 0 },
	} {
		if s := byKind[k]; s == nil || !want(s) {
			t.Errorf("%s: traits not as described: %+v", k, s)
		}
	}
}

// TestEvasion: evasive bots are labelled so, and look more like people.
func TestEvasion(t *testing.T) {
	cfg := shortConfig(13)
	cfg.Duration = 40 * time.Minute
	cfg.Evasion = 1
	reqs, g := collect(t, cfg)
	assets := map[simulate.Kind]int{}
	tools := 0
	for _, r := range reqs {
		if simulate.LabelOf(r.Kind) != simulate.LabelBot {
			continue
		}
		if !r.Evasive && r.Kind != simulate.FakeCrawler && r.Kind != simulate.BotImpostor { // impostors keep their claim
			t.Fatalf("%s request of a %s not evasive with Evasion=1", r.IP, r.Kind)
		}
		if strings.HasPrefix(r.Target, "/static/") || strings.HasPrefix(r.Target, "/img/") {
			assets[r.Kind]++
		}
		if strings.Contains(r.UA, "HeadlessChrome") || strings.HasPrefix(r.UA, "curl/") || strings.HasPrefix(r.UA, "python-requests") {
			tools++
		}
	}
	for _, k := range []simulate.Kind{simulate.ScraperFast, simulate.ScraperSlow, simulate.Headless, simulate.ProxyPool} {
		if assets[k] == 0 {
			t.Errorf("evasive %s loads no assets", k)
		}
	}
	if tools != 0 {
		t.Errorf("%d evasive requests with a tool or headless UA", tools)
	}
	n := 0
	for _, l := range g.Labels() {
		if l.Evasive {
			n++
			if l.Label != simulate.LabelBot || l.Kind == simulate.FakeCrawler {
				t.Fatalf("label %+v is evasive", l)
			}
		}
	}
	if n == 0 {
		t.Fatal("no evasive labels")
	}
}

// nginxCombined is the combined format with the optional request-time extension.
var nginxCombined = regexp.MustCompile(`^(\S+) - - \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "([A-Z]+) (\S+) (HTTP/[12]\.[01])" (\d{3}) (\d+) "([^"]*)" "([^"]*)"( \d+\.\d{3} "[^"]*")?$`)

func TestLinesParse(t *testing.T) {
	f := func(name string, format logparse.Format, mod func(*simulate.Config)) {
		t.Helper()
		cfg := shortConfig(5)
		cfg.Duration = 10 * time.Minute
		cfg.IPv6Share = 0.3
		mod(&cfg)
		out, _ := run(t, cfg)
		reqs, _ := collect(t, cfg)
		p, err := logparse.New(format, logparse.Options{})
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
		if len(lines) != len(reqs) {
			t.Fatalf("%s: %d lines for %d requests", name, len(lines), len(reqs))
		}
		var ev eventpb.RequestEvent
		for i, line := range lines {
			if format == logparse.FormatNginx && !nginxCombined.Match(line) {
				t.Fatalf("%s: line %d is not nginx combined: %s", name, i, line)
			}
			if err := p.Parse(line, &ev); err != nil {
				t.Fatalf("%s: line %d: %v\n%s", name, i, err, line)
			}
			r := &reqs[i]
			wantTime := r.At
			if format == logparse.FormatNginx {
				wantTime = r.At - r.At%int64(time.Second)
			}
			path, query, _ := strings.Cut(r.Target, "?")
			if ev.ClientIp != r.IP.String() || ev.Method != r.Method || ev.Path != path || ev.Query != query ||
				ev.Status != uint32(r.Status) || ev.ResponseBytes != uint64(r.Bytes) || ev.UserAgent != r.UA ||
				ev.Referer != r.Referer || ev.TimeUnixNano != wantTime {
				t.Fatalf("%s: line %d parsed as %v, generated %+v", name, i, &ev, r)
			}
		}
	}
	f("nginx", logparse.FormatNginx, func(*simulate.Config) {})
	f("nginx+request_time", logparse.FormatNginx, func(c *simulate.Config) { c.RequestTime = true })
	f("cloudflare", logparse.FormatCloudflare, func(c *simulate.Config) { c.Format = simulate.Cloudflare })
}

func TestLabelsRoundTrip(t *testing.T) {
	_, g := run(t, shortConfig(2))
	var buf bytes.Buffer
	if err := simulate.WriteLabels(&buf, g.Labels()); err != nil {
		t.Fatal(err)
	}
	back, err := simulate.ReadLabels(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := g.Labels()
	if len(back) != len(want) || len(want) == 0 {
		t.Fatalf("read %d labels, wrote %d", len(back), len(want))
	}
	for ip, l := range want {
		if back[ip] != l {
			t.Fatalf("%s: read %+v, wrote %+v", ip, back[ip], l)
		}
	}
}

func TestLive(t *testing.T) {
	cfg := simulate.DefaultConfig()
	cfg.Duration = 1500 * time.Millisecond
	cfg.HumansPerMinute = 3000
	begin := time.Now()
	var lines int
	err := simulate.LiveRequests(context.Background(), cfg, func(r *simulate.Request) error {
		lines++
		if d := time.Since(r.Time()); d < -50*time.Millisecond || d > 5*time.Second {
			t.Errorf("request stamped %s emitted at %s", r.Time(), time.Now())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if lines == 0 {
		t.Fatal("no requests in 1.5 s at 3000 humans a minute")
	}
	if el := time.Since(begin); el < time.Second {
		t.Fatalf("1.5 s of live traffic took only %s", el)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cfg.Duration = 0
	stop := errors.New("stop")
	n := 0
	err = simulate.Live(ctx, cfg, func(line []byte) error {
		if !nginxCombined.Match(bytes.TrimSuffix(line, []byte("\n"))) {
			t.Errorf("live line is not nginx combined: %s", line)
		}
		if n++; n == 20 {
			cancel()
		}
		if n > 1000 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Live after cancel = %v, want context.Canceled", err)
	}
}

func TestValidate(t *testing.T) {
	f := func(name string, mod func(*simulate.Config), ok bool) {
		t.Helper()
		cfg := simulate.DefaultConfig()
		mod(&cfg)
		err := cfg.Validate()
		if ok != (err == nil) || (err != nil && !errors.Is(err, simulate.ErrConfig)) {
			t.Fatalf("%s: Validate() = %v", name, err)
		}
		if _, err := simulate.New(cfg); ok != (err == nil) {
			t.Fatalf("%s: New() = %v", name, err)
		}
	}
	f("default", func(*simulate.Config) {}, true)
	f("no bots", func(c *simulate.Config) { c.Bots = nil }, true)
	f("negative duration", func(c *simulate.Config) { c.Duration = -time.Second }, false)
	f("unknown kind", func(c *simulate.Config) { c.Bots = map[simulate.Kind]float64{"teapot": 1} }, false)
	f("human kind as bot", func(c *simulate.Config) { c.Bots = map[simulate.Kind]float64{simulate.Human: 1} }, false)
	f("negative rate", func(c *simulate.Config) { c.Bots = map[simulate.Kind]float64{simulate.Tool: -1} }, false)
	f("ipv6 share", func(c *simulate.Config) { c.IPv6Share = 1.5 }, false)
	f("evasion", func(c *simulate.Config) { c.Evasion = -0.1 }, false)
	f("format", func(c *simulate.Config) { c.Format = "apache" }, false)
	f("office without users", func(c *simulate.Config) { c.OfficeUsers = 0 }, false)
	f("no start", func(c *simulate.Config) { c.Start = time.Time{} }, false)

	g, err := simulate.New(func() simulate.Config { c := simulate.DefaultConfig(); c.Duration = 0; return c }())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := simulate.Write(context.Background(), g, &bytes.Buffer{}); !errors.Is(err, simulate.ErrUnbounded) {
		t.Fatalf("Write without duration = %v, want ErrUnbounded", err)
	}
}

func BenchmarkGenerate(b *testing.B) {
	cfg := simulate.DefaultConfig()
	cfg.Duration = 0
	g, err := simulate.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var (
		r    simulate.Request
		line []byte
	)
	b.ReportAllocs()
	for b.Loop() {
		g.Next(&r)
		line = simulate.AppendLine(line[:0], &r, cfg.Format, cfg.Host, false)
	}
	b.SetBytes(int64(len(line)))
}
