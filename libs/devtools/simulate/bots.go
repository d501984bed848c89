package simulate

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
)

// newBot starts one instance of a bot or crawler kind (not checkout_bot,
// which belongs to a drop).
func (g *Generator) newBot(k Kind, at int64) actor {
	b := g.newBase(k, at)
	v6 := b.rng.Float64() < g.cfg.IPv6Share
	b.proto = "HTTP/1.1"
	one := func() {
		ips, n := g.addrs.bot(v6, 1)
		b.ip, b.net = ips[0], n
	}
	score := func(lo, hi int) { b.botScore = lo + b.rng.IntN(hi-lo+1) }
	// Drawn only when asked for, so that runs without evasion stay as they were.
	b.evasive = g.cfg.Evasion > 0 && k != FakeCrawler && k != CrawlerGoogle && k != CrawlerBing &&
		k != BotImpostor && k != CrawlerRDNS &&
		b.rng.Float64() < g.cfg.Evasion
	var a actor
	switch k {
	case ScraperFast:
		one()
		b.ua = oneOf(b.rng, scraperUAs)
		score(1, 15)
		s := &scraperFast{base: b,
			rate:  b.uniform(3, 15),
			until: at + secs(b.uniform(120, 1200)),
			batch: 1 + b.rng.IntN(8),
			next:  randomProduct(b.rng),
			cats:  b.rng.Float64() < 0.3,
		}
		if s.evasive {
			s.ua = browserUA(s.rng, 0.2)
			s.rate, s.batch = s.uniform(0.5, 3), 1
		}
		a = s
	case ScraperSlow:
		one()
		b.ua = browserUA(b.rng, 0.1)
		b.proto = "HTTP/2.0"
		score(15, 60)
		s := &scraperSlow{base: b,
			interval: b.uniform(3, 12),
			until:    at + secs(b.uniform(3600, 6*3600)),
			next:     randomProduct(b.rng),
		}
		if b.rng.Float64() < 0.5 {
			s.cat = b.rng.IntN(len(categories))
			s.page = 1
		}
		if s.evasive {
			s.interval = s.uniform(6, 20)
		}
		a = s
	case CredentialStuffing:
		one()
		b.ua = browserUA(b.rng, 0.2)
		if b.rng.Float64() < 0.3 {
			b.ua = oneOf(b.rng, toolUAs[2:5])
		}
		score(2, 35)
		path := "/login"
		if b.rng.Float64() < 0.3 {
			path = "/api/auth/login"
		}
		s := &stuffer{base: b, path: path,
			interval: b.uniform(1.5, 8),
			until:    at + secs(b.uniform(20*60, 90*60)),
		}
		if s.evasive {
			s.ua, s.path = browserUA(s.rng, 0.3), "/login"
			s.interval = s.uniform(8, 30)
		}
		a = s
	case VulnProbe:
		one()
		b.ua = oneOf(b.rng, probeUAs)
		score(1, 5)
		p := &prober{base: b, left: 30 + b.rng.IntN(121), fast: b.rng.Float64() < 0.5}
		if p.evasive {
			p.ua, p.fast = browserUA(p.rng, 0), false
		}
		a = p
	case Headless:
		one()
		b.ua = oneOf(b.rng, headlessUAs)
		b.proto = "HTTP/2.0"
		score(1, 10)
		h := &headless{base: b, left: 20 + b.rng.IntN(181)}
		if h.evasive {
			h.ua = oneOf(h.rng, desktopUAs) // a patched headless browser
		}
		a = h
	case ProxyPool:
		size := 16 + b.rng.IntN(49)
		if b.evasive {
			size = 100 + b.rng.IntN(140)
		}
		ips, n := g.addrs.bot(v6, size)
		b.net = n
		uas := make([]string, len(ips))
		for i := range uas {
			uas[i] = browserUA(b.rng, 0.3)
		}
		score(10, 55)
		a = &proxyPool{base: b, ips: ips, uas: uas,
			rate:  b.uniform(1, 6),
			until: at + secs(b.uniform(600, 3600)),
			next:  randomProduct(b.rng),
		}
	case FakeCrawler:
		one()
		b.ua = oneOf(b.rng, googlebotUAs)
		score(1, 3)
		a = &crawler{base: b, ips: []netip.Addr{b.ip}, rate: b.uniform(0.5, 4), until: at + secs(b.uniform(300, 2400))}
	case Tool:
		one()
		b.ua = oneOf(b.rng, toolUAs)
		score(1, 2)
		t := &tool{base: b, mode: b.rng.IntN(3)}
		switch t.mode {
		case toolFetch:
			t.interval, t.until = 1/b.uniform(0.3, 3), at+secs(b.uniform(60, 1200))
		case toolAPI:
			t.interval, t.until = 1/b.uniform(0.5, 4), at+secs(b.uniform(60, 900))
		default:
			t.interval, t.until = b.uniform(20, 60), at+secs(b.uniform(3600, 4*3600))
			t.product = randomProduct(b.rng)
		}
		if t.evasive {
			t.ua = browserUA(t.rng, 0)
		}
		a = t
	case BotImpostor:
		one()
		b.ua = oneOf(b.rng, impostorUAs)
		score(1, 5)
		// A live decider asks reverse DNS about it: a hosting provider's name.
		g.noteRDNS(b.ip, "static-"+dashed(b.ip)+".hosting.example.net", false)
		a = &crawler{base: b, ips: []netip.Addr{b.ip}, rate: b.uniform(0.5, 4), until: at + secs(b.uniform(300, 2400))}
	case CrawlerRDNS:
		bot := oneOf(b.rng, rdnsBots)
		ips, n := crawlerAddrs(b.rng, bot.nets, 1+b.rng.IntN(4))
		b.ip, b.net = ips[0], n
		b.ua = oneOf(b.rng, bot.ua)
		b.botScore, b.verified = 1, true
		for _, ip := range ips {
			g.noteRDNS(ip, bot.ptr(ip), true)
		}
		a = &crawler{base: b, ips: ips, rate: b.uniform(0.05, 1), until: at + secs(b.uniform(1200, 7200))}
	case CrawlerGoogle, CrawlerBing:
		pools, uas := googleCrawl, googlebotUAs
		rate := b.uniform(0.1, 1.5)
		if k == CrawlerBing {
			pools, uas, rate = bingCrawl, bingbotUAs, b.uniform(0.05, 0.8)
		}
		ips, n := crawlerAddrs(b.rng, pools, 1+b.rng.IntN(6))
		b.ip, b.net = ips[0], n
		b.ua = oneOf(b.rng, uas)
		b.botScore, b.verified = 1, true
		a = &crawler{base: b, ips: ips, rate: rate, until: at + secs(b.uniform(1200, 7200))}
	default:
		panic("simulate: no bot for kind " + string(k)) // Validate admits only BotKinds
	}
	if b := a.self(); b.evasive {
		b.botScore = 20 + b.rng.IntN(51) // a CDN is fooled too, at times
	}
	return a
}

// assets appends the requests a browser makes for a page's scripts and
// styles (what evasive bots fetch to look like one), starting at t.
func (b *base) assets(out []Request, t int64, page string) []Request {
	for _, a := range pageAssets[:3] {
		out = append(out, b.req(t+secs(b.uniform(0.05, 0.4)), "GET", a.path, 200, a.bytes, b.url(page)))
	}
	return out
}

// pageFor returns a catalogue page and its size for crawling bots.
func pageFor(rng *rand.Rand, id int) (string, int, int) {
	if id >= firstProduct+productCount {
		return productPath(id), 404, 9_800
	}
	return productPath(id), 200, 52_000 + rng.IntN(13_000)
}

// scraperFast pulls the catalogue as fast as it can, in small concurrent
// batches, without assets.
type scraperFast struct {
	base
	rate  float64
	until int64
	batch int
	next  int
	cats  bool
	page  int
	prev  string
}

func (s *scraperFast) step(out []Request) []Request {
	if s.now >= s.until {
		return out
	}
	from := len(out)
	t := s.now
	for range s.batch {
		var target string
		status, size := 200, 0
		if s.cats && s.rng.Float64() < 0.3 {
			s.page++
			target, size = categoryPath(categories[s.page%len(categories)], 1+s.page/len(categories)), 84_000
		} else {
			target, status, size = pageFor(s.rng, s.next)
			s.next++
		}
		ref := ""
		if s.prev != "" && (s.evasive || s.rng.Float64() < 0.3) {
			ref = s.url(s.prev)
		}
		out = append(out, s.req(t+secs(s.uniform(0, 0.05)), "GET", target, status, size, ref))
		if s.evasive && s.rng.Float64() < 0.3 {
			out = s.assets(out, t, target)
		}
		s.prev = target
	}
	sortBurst(out[from:])
	s.now = out[len(out)-1].At + secs(s.rng.ExpFloat64()*float64(s.batch)/s.rate)
	return out
}

// scraperSlow walks product ids or deep pagination one page at a time with
// a browser's UA and an almost regular clock, to stay under rate limits.
type scraperSlow struct {
	base
	interval float64
	until    int64
	next     int
	cat      int
	page     int // 0: walk products
	prev     string
}

func (s *scraperSlow) step(out []Request) []Request {
	if s.evasive {
		s.now += secs(max(1, s.lognormal(s.interval, 0.6)))
	} else {
		s.now += secs(s.jitter(s.interval, 0.08))
	}
	if s.now >= s.until {
		return out
	}
	var target string
	status, size := 200, 0
	if s.page > 0 {
		target, size = categoryPath(categories[s.cat], s.page), 84_000+s.rng.IntN(4_000)
		s.page++
		if s.page > 250 {
			s.cat, s.page = (s.cat+1)%len(categories), 1
		}
	} else {
		target, status, size = pageFor(s.rng, s.next)
		s.next++
	}
	ref := ""
	if s.prev != "" && (s.evasive || s.rng.Float64() < 0.5) {
		ref = s.url(s.prev)
	}
	first := s.prev == ""
	s.prev = target
	out = append(out, s.req(s.now, "GET", target, status, size, ref))
	if !s.evasive {
		return out
	}
	from := len(out)
	if first {
		out = s.assets(out, s.now, target)
	}
	if s.page == 0 && status == 200 {
		for i := range 1 + s.rng.IntN(2) {
			img := productImage(s.next-1, i+1)
			out = append(out, s.req(s.now+secs(s.uniform(0.1, 1)), "GET", img.path, 200, img.bytes, s.url(target)))
		}
	}
	sortBurst(out[from:])
	s.now = out[len(out)-1].At
	return out
}

// stuffer tries leaked credentials against the login form at a steady pace.
type stuffer struct {
	base
	path     string
	interval float64
	until    int64
	tries    int
}

func (s *stuffer) step(out []Request) []Request {
	s.now += secs(s.jitter(s.interval, 0.3))
	if s.now >= s.until {
		return out
	}
	s.tries++
	ref := ""
	if strings.HasPrefix(s.ua, "Mozilla") {
		ref = s.url("/login")
	}
	if s.path == "/login" && (s.evasive || s.tries%20 == 1) {
		out = append(out, s.req(s.now, "GET", "/login", 200, 17_600, ref))
		if s.evasive && s.tries == 1 {
			out = s.assets(out, s.now, "/login")
			sortBurst(out)
		}
		s.now = out[len(out)-1].At
		if s.evasive {
			s.now += secs(s.uniform(3, 10)) // typing
		} else {
			s.now += secs(s.uniform(0.3, 1))
		}
	}
	status, size := 401, 17_900
	if s.path != "/login" {
		size = 64
	}
	if s.rng.Float64() < 0.03 {
		status, size = 302, 0
	}
	return append(out, s.req(s.now, "POST", s.path, status, size, ref))
}

// checkoutBot camps on a product before a drop and, when it goes on sale,
// hammers cart and checkout.
type checkoutBot struct {
	base
	dropAt  int64
	product int
	phase   int
	left    int
}

func (g *Generator) newCheckoutBot(at, dropAt int64, product int) *checkoutBot {
	b := g.newBase(CheckoutBot, at)
	ips, n := g.addrs.bot(b.rng.Float64() < g.cfg.IPv6Share, 1)
	b.ip, b.net = ips[0], n
	b.ua = browserUA(b.rng, 0.2)
	b.proto = "HTTP/2.0"
	b.botScore = 5 + b.rng.IntN(41)
	c := &checkoutBot{base: b, dropAt: dropAt, product: product, left: 40 + b.rng.IntN(120)}
	if g.cfg.Evasion > 0 && b.rng.Float64() < g.cfg.Evasion {
		c.evasive, c.left = true, 10+b.rng.IntN(20)
		c.botScore = 20 + b.rng.IntN(51)
	}
	return c
}

func (c *checkoutBot) step(out []Request) []Request {
	page := productPath(c.product)
	ref := c.url(page)
	switch {
	case c.now < c.dropAt: // watch the product page
		if c.evasive {
			c.now += secs(c.uniform(3, 8))
		} else {
			c.now += secs(c.uniform(0.5, 3))
		}
		return append(out, c.req(min(c.now, c.dropAt), "GET", page, 200, 52_000, ""))
	case c.phase == 0: // the drop: add to cart, several times over
		c.phase = 1
		c.now = max(c.now, c.dropAt) + secs(c.uniform(0, 0.3))
		from := len(out)
		for i := range 3 + c.rng.IntN(8) {
			status := 302
			if i > 0 {
				status = 409
			}
			out = append(out, c.req(c.now+secs(c.uniform(0, 1.5)), "POST", "/cart/add", status, 0, ref))
		}
		sortBurst(out[from:])
		c.now = out[len(out)-1].At
		return out
	case c.left > 0: // checkout until it goes through or the bot gives up
		c.left--
		if c.evasive {
			c.now += secs(c.uniform(1, 3))
		} else {
			c.now += secs(c.uniform(0.05, 0.8))
		}
		if c.rng.Float64() < 0.1 {
			return append(out, c.req(c.now, "GET", "/checkout", 200, 24_000, c.url("/cart")))
		}
		status := 429
		if c.rng.Float64() < 0.4 {
			status = 409
		}
		if c.left == 0 {
			status = 302
		}
		return append(out, c.req(c.now, "POST", "/checkout", status, 0, c.url("/checkout")))
	}
	return out
}

// prober looks for exposed files and admin panels.
type prober struct {
	base
	left int
	fast bool
	i    int
}

var probeDirs = []string{"", "", "", "/backup", "/old", "/wordpress", "/blog", "/shop"}

func (p *prober) step(out []Request) []Request {
	if p.left <= 0 {
		return out
	}
	p.left--
	switch {
	case p.fast:
		p.now += secs(p.uniform(0.03, 0.4))
	case p.evasive:
		p.now += secs(p.uniform(3, 20))
		if p.rng.Float64() < 0.5 { // blend in with ordinary pages
			target, status, size := pageFor(p.rng, randomProduct(p.rng))
			return append(out, p.req(p.now, "GET", target, status, size, ""))
		}
	default:
		p.now += secs(p.uniform(0.3, 3))
	}
	path := probePaths[(p.i*7+int(p.id))%len(probePaths)]
	p.i++
	if p.i > len(probePaths) {
		path = oneOf(p.rng, probeDirs) + path
	}
	method, status, size := "GET", 404, 9_800
	switch path {
	case "/robots.txt":
		status, size = 200, 312
	case "/sitemap.xml":
		status, size = 200, 21_044
	case "/.well-known/security.txt":
		status, size = 200, 211
	case "/xmlrpc.php":
		method = "POST"
	case "/server-status", "/.git/config", "/.git/HEAD":
		status, size = 403, 548
	}
	return append(out, p.req(p.now, method, path, status, size, ""))
}

// headless drives a headless browser through the catalogue: it loads the
// HTML and scripts (it runs them) but blocks images to go faster.
type headless struct {
	base
	left    int
	started bool
	prev    string
}

func (h *headless) step(out []Request) []Request {
	if h.left <= 0 {
		return out
	}
	h.left--
	if h.evasive {
		h.now += secs(max(0.8, h.lognormal(4, 0.7)))
	} else {
		h.now += secs(max(0.4, h.lognormal(2.5, 0.5)))
	}
	from := len(out)
	target := productPath(randomProduct(h.rng))
	if h.rng.Float64() < 0.25 {
		target = categoryPath(oneOf(h.rng, categories), 1+h.rng.IntN(pagesPerCat))
	}
	ref := ""
	if h.prev != "" {
		ref = h.url(h.prev)
	}
	out = append(out, h.req(h.now, "GET", target, 200, 52_000+h.rng.IntN(30_000), ref))
	pageURL := h.url(target)
	t := h.now + secs(h.uniform(0.05, 0.2))
	if !h.started {
		h.started = true
		for _, a := range pageAssets[:3] {
			out = append(out, h.req(t+secs(h.uniform(0, 0.1)), "GET", a.path, 200, a.bytes, pageURL))
		}
	}
	out = append(out, h.req(t+secs(h.uniform(0.1, 0.4)), "GET", "/api/cart/count", 200, 24, pageURL))
	if id, err := strconv.Atoi(strings.TrimPrefix(target, "/product/")); h.evasive && err == nil {
		for i := range 2 + h.rng.IntN(3) {
			img := productImage(id, i+1)
			out = append(out, h.req(t+secs(h.uniform(0.1, 1)), "GET", img.path, 200, img.bytes, pageURL))
		}
	}
	h.prev = target
	sortBurst(out[from:])
	h.now = out[len(out)-1].At
	return out
}

// proxyPool is one scraper spread over many addresses of one network, each
// with its own browser UA, so that no single address looks busy.
type proxyPool struct {
	base
	ips   []netip.Addr
	uas   []string
	used  map[netip.Addr]bool // evasive: addresses that fetched the assets
	rate  float64
	until int64
	next  int
}

func (p *proxyPool) step(out []Request) []Request {
	p.now += secs(p.rng.ExpFloat64() / p.rate)
	if p.now >= p.until {
		return out
	}
	i := p.rng.IntN(len(p.ips))
	p.ip, p.ua = p.ips[i], p.uas[i]
	target, status, size := pageFor(p.rng, p.next)
	p.next++
	out = append(out, p.req(p.now, "GET", target, status, size, ""))
	if p.evasive && !p.used[p.ip] {
		if p.used == nil {
			p.used = map[netip.Addr]bool{}
		}
		p.used[p.ip] = true
		out = p.assets(out, p.now, target)
		sortBurst(out)
		p.now = out[len(out)-1].At
	}
	return out
}

// crawler is a search-engine crawler (real or pretending): robots.txt
// first, then the sitemap and catalogue pages at a polite rate.
type crawler struct {
	base
	ips   []netip.Addr
	rate  float64
	until int64
	n     int
}

func (c *crawler) step(out []Request) []Request {
	c.now += secs(c.rng.ExpFloat64() / c.rate)
	if c.now >= c.until {
		return out
	}
	c.ip = oneOf(c.rng, c.ips)
	c.n++
	var target string
	status, size := 200, 0
	switch {
	case c.n == 1:
		target, size = "/robots.txt", 312
	case c.n == 2:
		target, size = "/sitemap.xml", 21_044
	case c.n%50 == 0:
		target, size = "/sitemap-products-"+strconv.Itoa(1+c.n/50%6)+".xml", 410_000
	case c.rng.Float64() < 0.2:
		target, size = categoryPath(oneOf(c.rng, categories), 1+c.rng.IntN(pagesPerCat)), 84_000
	default:
		target, status, size = pageFor(c.rng, firstProduct+c.rng.IntN(productCount+60))
	}
	return append(out, c.req(c.now, "GET", target, status, size, ""))
}

const (
	toolFetch = iota
	toolAPI
	toolMonitor
)

// tool is a script with an HTTP library's default UA: fetching pages,
// paging through the API, or watching one product's price.
type tool struct {
	base
	mode     int
	interval float64
	until    int64
	product  int
	page     int
}

func (t *tool) step(out []Request) []Request {
	t.now += secs(t.jitter(t.interval, 0.5))
	if t.now >= t.until {
		return out
	}
	switch t.mode {
	case toolFetch:
		target, status, size := pageFor(t.rng, randomProduct(t.rng))
		return append(out, t.req(t.now, "GET", target, status, size, ""))
	case toolAPI:
		t.page++
		return append(out, t.req(t.now, "GET", "/api/products?page="+strconv.Itoa(t.page)+"&per_page=100", 200, 48_000+t.rng.IntN(9_000), ""))
	}
	return append(out, t.req(t.now, "GET", productPath(t.product), 200, 52_000, ""))
}
