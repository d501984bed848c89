package simulate

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Campaign kinds: attacks spread across many addresses or many hours, and
// the traps that look like them but are people. They are scheduled by
// Config.Campaigns, never by Config.Bots: each is one event with a start,
// a length and a size, not a rate.
const (
	// ResidentialStuffing: credential stuffing through a residential proxy
	// network. Every address sits in its own unrelated network, loads the
	// login page with its scripts, and posts a handful of failing logins.
	ResidentialStuffing Kind = "residential_stuffing"
	// DistributedScraping: one crawl spread over many networks; each address
	// fetches a few product pages, together they walk the catalogue with one
	// user agent and one asset pattern.
	DistributedScraping Kind = "distributed_scraping"
	// AllDayScraper: one address with a browser's user agent, referers,
	// assets on some pages and human-like pauses, fetching hundreds of
	// distinct products an hour for many hours and never a cart.
	AllDayScraper Kind = "allday_scraper"
	// FlashSale: a newsletter or a flash sale sends thousands of real people
	// to log in within minutes (a trap: they are human).
	FlashSale Kind = "flash_sale"
	// SSOOutage: a corporate single sign-on outage makes many real logins
	// fail, and people retry (a trap: they are human).
	SSOOutage Kind = "sso_outage"
)

// CampaignKinds lists every kind Config.Campaigns accepts, in a fixed order.
var CampaignKinds = []Kind{ResidentialStuffing, DistributedScraping, AllDayScraper, FlashSale, SSOOutage}

// Campaign is one distributed or long-horizon event in a run.
type Campaign struct {
	Kind Kind
	// At is when it starts, from the run's start.
	At time.Duration
	// For is how long it lasts (0: the kind's default).
	For time.Duration
	// Size is how many addresses (attacks) or people (traps) take part
	// (0: the kind's default).
	Size int
}

// campaignDefaults are each kind's length and size when a Campaign leaves them 0.
var campaignDefaults = map[Kind]struct {
	For  time.Duration
	Size int
}{
	ResidentialStuffing: {40 * time.Minute, 1000},
	DistributedScraping: {30 * time.Minute, 300},
	AllDayScraper:       {24 * time.Hour, 1},
	FlashSale:           {10 * time.Minute, 3000},
	SSOOutage:           {45 * time.Minute, 600},
}

// withDefaults fills For and Size from the kind's defaults.
func (c Campaign) withDefaults() Campaign {
	d := campaignDefaults[c.Kind]
	if c.For == 0 {
		c.For = d.For
	}
	if c.Size == 0 {
		c.Size = d.Size
	}
	return c
}

// String is the campaign as ParseCampaign reads it.
func (c Campaign) String() string {
	c = c.withDefaults()
	return fmt.Sprintf("%s@%s,for=%s,size=%d", c.Kind, c.At, c.For, c.Size)
}

// ParseCampaign reads "kind[@AT][,for=D][,size=N]", e.g.
// "residential_stuffing@30m,size=800"; hyphens in the kind are accepted
// for underscores.
func ParseCampaign(s string) (Campaign, error) {
	parts := strings.Split(strings.TrimSpace(s), ",")
	head := parts[0]
	var c Campaign
	name, at, hasAt := strings.Cut(head, "@")
	c.Kind = Kind(strings.ReplaceAll(strings.TrimSpace(name), "-", "_"))
	if _, ok := campaignDefaults[c.Kind]; !ok {
		return Campaign{}, fmt.Errorf("%w: scenario %q: unknown kind %q (known: %s)", ErrConfig, s, name, campaignKindList())
	}
	if hasAt {
		d, err := time.ParseDuration(at)
		if err != nil || d < 0 {
			return Campaign{}, fmt.Errorf("%w: scenario %q: start %q is not a duration such as 30m", ErrConfig, s, at)
		}
		c.At = d
	}
	for _, kv := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "for":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return Campaign{}, fmt.Errorf("%w: scenario %q: for=%q is not a positive duration", ErrConfig, s, v)
			}
			c.For = d
		case "size":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 1_000_000 {
				return Campaign{}, fmt.Errorf("%w: scenario %q: size=%q is not a count within 1..1000000", ErrConfig, s, v)
			}
			c.Size = n
		default:
			return Campaign{}, fmt.Errorf("%w: scenario %q: unknown option %q (want for=D or size=N)", ErrConfig, s, kv)
		}
	}
	return c, nil
}

func campaignKindList() string {
	s := make([]string, len(CampaignKinds))
	for i, k := range CampaignKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// validateCampaign checks one campaign of a config.
func validateCampaign(c Campaign) error {
	if _, ok := campaignDefaults[c.Kind]; !ok {
		return fmt.Errorf("%w: unknown scenario kind %q (known: %s)", ErrConfig, c.Kind, campaignKindList())
	}
	if c.At < 0 || c.For < 0 || c.Size < 0 {
		return fmt.Errorf("%w: scenario %s: start, length and size must not be negative", ErrConfig, c.Kind)
	}
	return nil
}

// campaigns schedules every campaign of the config. They draw from their
// own random source and their own address book over networks no other
// actor uses, so that a run with campaigns has every other actor's requests
// exactly as they are without them, and no address has two truths.
func (g *Generator) campaigns() {
	if len(g.cfg.Campaigns) == 0 {
		return
	}
	g.rng3 = rand.New(rand.NewPCG(g.cfg.Seed^0xca4a_1675, 0x5eed_a11c_e8))
	g.addrs3 = newAddresses(rand.New(rand.NewPCG(g.cfg.Seed^0xadd3, 0x5eed_a11c_e9)))
	g.addrs3.pools = campaignPools
	for i, c := range g.cfg.Campaigns {
		c = c.withDefaults()
		start := g.start + int64(c.At)
		length := int64(c.For)
		// One fingerprint per attack campaign: the tool's few browser
		// user agents, which is what lets it be recognised across addresses.
		uas := make([]string, 1+g.rng3.IntN(3))
		for j := range uas {
			uas[j] = oneOf(g.rng3, desktopUAs)
		}
		spawnAt := func(j int) int64 {
			switch c.Kind {
			case FlashSale:
				// A newsletter: most people come in the first minutes.
				return start + int64(min(float64(length), g.rng3.ExpFloat64()*float64(length)/4))
			case AllDayScraper:
				return start + int64(j)*int64(time.Minute)
			}
			return start + g.rng3.Int64N(max(1, length))
		}
		shared := &crawlWalk{next: firstProduct + g.rng3.IntN(productCount)}
		for j := range c.Size {
			at := spawnAt(j)
			b := g.newBase3(c.Kind, at, uint64(i))
			switch c.Kind {
			case ResidentialStuffing:
				b.ip, b.net = g.addrs3.residential(b.rng.Float64() < g.cfg.IPv6Share)
				b.ua, b.proto = oneOf(b.rng, uas), "HTTP/2.0"
				b.botScore = 20 + b.rng.IntN(60) // a residential address fools a CDN
				g.add(&proxyStuffer{base: b, tries: 2 + b.rng.IntN(5)})
			case DistributedScraping:
				if b.rng.Float64() < 0.5 {
					b.ip, b.net = g.addrs3.residential(false)
				} else {
					ips, n := g.addrs3.bot(false, 1)
					b.ip, b.net = ips[0], n
				}
				b.ua, b.proto = uas[0], "HTTP/1.1"
				b.botScore = 10 + b.rng.IntN(50)
				g.add(&crawlShard{base: b, walk: shared, left: 3 + b.rng.IntN(10), interval: 4})
			case AllDayScraper:
				b.ip, b.net = g.addrs3.residential(false)
				b.ua, b.proto = browserUA(b.rng, 0), "HTTP/2.0"
				b.botScore = 40 + b.rng.IntN(50)
				g.add(&slowBrowser{base: b, until: at + length})
			case FlashSale:
				h := g.humanFrom(b, g.addrs3, nil, 0)
				g.add(&loginFirst{human: h, referer: "https://newsletter." + g.cfg.Host + "/"})
			case SSOOutage:
				h := g.humanFrom(b, g.addrs3, nil, 0)
				if b.rng.Float64() < 0.5 { // from the company's own networks
					h.ip, h.net = g.addrs3.office()
				}
				g.add(&ssoUser{human: h, outageEnd: start + length, retries: 2 + b.rng.IntN(4)})
			}
		}
	}
}

// campaignPools are the networks of campaign actors, attackers and the
// people of the traps alike: broadband, mobile and hosting networks that no
// other actor draws from (realistic ranges of where such clients come from,
// not claims about anyone), so that campaigns never disturb the rest of a run.
var campaignPools = &poolSet{
	home4: []network{
		nw("24.0.0.0/12", 7922, "US"),     // cable ISP
		nw("76.0.0.0/10", 7922, "US"),     // cable ISP
		nw("177.0.0.0/10", 28573, "BR"),   // cable ISP
		nw("49.32.0.0/12", 55836, "IN"),   // mobile carrier
		nw("113.160.0.0/11", 45899, "VN"), // fibre ISP
		nw("78.160.0.0/11", 9121, "TR"),   // DSL ISP
		nw("83.0.0.0/11", 5617, "PL"),     // DSL ISP
		nw("79.192.0.0/10", 3320, "DE"),   // DSL ISP
		nw("81.96.0.0/12", 5089, "GB"),    // cable ISP
		nw("186.0.0.0/11", 7303, "AR"),    // cable ISP
		nw("91.160.0.0/12", 12322, "FR"),  // fibre ISP
		nw("95.24.0.0/13", 8402, "RU"),    // broadband ISP
	},
	home6: []network{
		nw("2a02:a400::/26", 33915, "NL"), // cable ISP
		nw("2804:14c::/32", 28573, "BR"),  // cable ISP
		nw("2a00:23c0::/28", 2856, "GB"),  // fibre ISP
	},
	business4: []network{nw("212.32.0.0/14", 8220, "GB"), nw("80.150.0.0/15", 3320, "DE")},
	dc4: []network{
		nw("104.131.0.0/16", 14061, "US"), // VPS provider
		nw("188.166.0.0/16", 14061, "NL"), // VPS provider
		nw("54.160.0.0/12", 16509, "US"),  // cloud provider
		nw("135.181.0.0/16", 24940, "FI"), // hosting provider
	},
	dc6: []network{nw("2a03:b0c0::/32", 14061, "NL")},
}

// newBase3 is newBase for campaign actors (see Generator.campaigns).
func (g *Generator) newBase3(kind Kind, at int64, campaign uint64) base {
	g.actors3++
	id := 2<<40 + g.actors3
	return base{
		rng:  rand.New(rand.NewPCG(g.cfg.Seed^0x94D049BB133111EB^campaign, id*0xBF58476D1CE4E5B9+uint64(len(kind)))),
		kind: kind,
		id:   id,
		now:  at,
		host: g.cfg.Host,
	}
}

// residential returns a fresh address alone in its /24 (or /64) of a
// broadband or mobile network: what a residential proxy exit looks like.
func (a *addresses) residential(v6 bool) (netip.Addr, network) {
	pools := a.pools.home4
	if v6 {
		pools = a.pools.home6
	}
	agg, n := a.freshNet(pools, ownBot)
	ip := randomIn(a.rng, agg)
	a.taken[ip] = true
	return ip, n
}

// proxyStuffer is one exit of a residential proxy network used for
// credential stuffing: it loads the login page as a browser would (the
// tool's fixed asset pattern: scripts and styles, no fonts or favicon),
// waits as if typing and posts a few failing logins.
type proxyStuffer struct {
	base
	tries  int
	loaded bool
}

func (s *proxyStuffer) step(out []Request) []Request {
	if s.tries <= 0 {
		return out
	}
	ref := s.url("/login")
	if !s.loaded {
		s.loaded = true
		out = append(out, s.req(s.now, "GET", "/login", 200, 17_600, ""))
		out = s.assets(out, s.now, "/login")
		sortBurst(out)
		s.now = out[len(out)-1].At
	}
	s.now += secs(s.uniform(4, 15)) // the form "typed"
	s.tries--
	status, size := 401, 17_900
	if s.rng.Float64() < 0.01 {
		status, size = 302, 0 // a leaked password that still works
	}
	out = append(out, s.req(s.now, "POST", "/login", status, size, ref))
	s.now += secs(s.uniform(20, 120)) // the next credential through the same exit
	return out
}

// crawlWalk is the shared position of a distributed crawl in the catalogue:
// each shard takes the next ids, so together they fetch disjoint products.
type crawlWalk struct{ next int }

func (w *crawlWalk) take() int {
	id := w.next
	w.next++
	if w.next >= firstProduct+productCount {
		w.next = firstProduct
	}
	return id
}

// crawlShard is one address of a distributed crawl: a few product pages at
// the crawl's clock, the script bundle once, never images.
type crawlShard struct {
	base
	walk     *crawlWalk
	left     int
	interval float64
	started  bool
}

func (c *crawlShard) step(out []Request) []Request {
	if c.left <= 0 {
		return out
	}
	c.left--
	if c.started {
		c.now += secs(c.jitter(c.interval, 0.1))
	}
	target, status, size := pageFor(c.rng, c.walk.take())
	out = append(out, c.req(c.now, "GET", target, status, size, ""))
	if !c.started {
		c.started = true
		out = c.assets(out, c.now, target)
		sortBurst(out)
		c.now = out[len(out)-1].At
	}
	return out
}

// slowBrowser is the all-day scraper: human-like pauses, a referer, the
// page's images now and then, hundreds of distinct products an hour, for
// many hours, never a cart or a login.
type slowBrowser struct {
	base
	until int64
	next  int // the product being viewed
	prev  string
	n     int
}

func (s *slowBrowser) step(out []Request) []Request {
	s.now += secs(max(2, s.lognormal(7, 0.5)))
	if s.now >= s.until {
		return out
	}
	s.n++
	var target string
	status, size := 200, 0
	if s.n%25 == 0 {
		target, size = categoryPath(oneOf(s.rng, categories), 1+s.rng.IntN(pagesPerCat)), 84_000
	} else {
		// Products in no order (a crawl frontier), so no id sequence gives it away.
		s.next = randomProduct(s.rng)
		target, status, size = pageFor(s.rng, s.next)
	}
	ref := ""
	if s.prev != "" {
		ref = s.url(s.prev)
	}
	from := len(out)
	out = append(out, s.req(s.now, "GET", target, status, size, ref))
	if s.n == 1 {
		out = s.assets(out, s.now, target)
	} else if status == 200 && s.rng.Float64() < 0.3 {
		img := productImage(s.next, 1)
		out = append(out, s.req(s.now+secs(s.uniform(0.1, 0.8)), "GET", img.path, 200, img.bytes, s.url(target)))
	}
	sortBurst(out[from:])
	s.now = out[len(out)-1].At
	s.prev = target
	return out
}

// loginFirst is a person arriving from a newsletter straight at the login
// page, then browsing as anyone does.
type loginFirst struct {
	*human
	referer string
}

func (l *loginFirst) step(out []Request) []Request {
	if !l.started {
		l.started = true
		l.pagesLeft = max(l.pagesLeft, 2)
		l.afterLog = "/account"
		return l.view(out, "/login", pgLogin, l.referer)
	}
	return l.human.step(out)
}

// ssoUser is a person whose company's single sign-on is down: each login
// fails until the outage ends; they retry a few times with human pauses,
// then give up or get in.
type ssoUser struct {
	*human
	outageEnd int64
	retries   int
}

func (u *ssoUser) step(out []Request) []Request {
	if !u.started {
		u.started = true
		return u.view(out, "/login", pgLogin, "")
	}
	if u.now < u.outageEnd && u.retries > 0 {
		u.retries--
		u.now += secs(max(3, u.lognormal(20, 0.8)))
		out = append(out, u.req(u.now, "POST", "/login", 401, 17_900+u.rng.IntN(400), u.url("/login")))
		u.now += secs(u.uniform(0.1, 0.4))
		return u.view(out, "/login", pgLogin, u.url("/login"))
	}
	if u.retries == 0 && u.now < u.outageEnd {
		return out // gave up
	}
	return u.human.step(out)
}
