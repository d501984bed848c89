// Package simulate generates labelled synthetic web-shop traffic: humans
// browsing with think times and asset loads, an office NAT, and bots of many
// kinds, as access-log lines (nginx combined, Cloudflare Logpush JSON) plus a
// labels file saying which client IP is what. It is seeded: the same Config
// gives the same lines, byte for byte, which is what makes it usable to tune
// and regression-test detection rules. Config.Evasion makes some bots try to
// pass for people, to see where rules stop working.
//
// Generator.Next yields requests in event-time order; Write renders a whole
// run, Live (or LiveRequests) streams one stamped with the current time at
// real pace, for `bulwark dev`.
package simulate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind is what an actor is: a human, or one kind of bot or crawler.
type Kind string

// The kinds the simulator knows. Humans and verified crawlers must not be
// flagged; every other kind is a bot.
const (
	Human       Kind = "human"        // one person browsing the shop
	NATOffice   Kind = "nat_office"   // people behind one office NAT address
	HumanBeacon Kind = "human_beacon" // a person on pages whose scripts post telemetry every ~2 s and call live search

	ScraperFast        Kind = "scraper_fast"        // fast catalogue scraper, no assets
	ScraperSlow        Kind = "scraper_slow"        // browser UA, sequential ids / deep pagination, regular timing
	CredentialStuffing Kind = "credential_stuffing" // paced POST /login with many 401s
	CheckoutBot        Kind = "checkout_bot"        // cart/checkout bursts at a product drop
	VulnProbe          Kind = "vuln_probe"          // /.env, /wp-login.php ... 404s
	Headless           Kind = "headless"            // HeadlessChrome, loads some assets
	ProxyPool          Kind = "proxy_pool"          // one scraper spread over many IPs of a /24
	FakeCrawler        Kind = "fake_crawler"        // Googlebot UA from a non-Google address
	Tool               Kind = "tool"                // curl, python-requests, Go-http-client ...
	APIBot             Kind = "api_bot"             // a script polling one API endpoint every ~2 s, never loading a page

	BotImpostor Kind = "bot_impostor" // a checkable directory bot's UA (Bing, Baidu, Ahrefs ...) from a hosting address

	CrawlerGoogle Kind = "crawler_google" // real Googlebot from Google's published ranges
	CrawlerBing   Kind = "crawler_bing"   // real bingbot from Microsoft's published ranges
	CrawlerRDNS   Kind = "crawler_rdns"   // real Baiduspider, YandexBot, AhrefsBot, SeznamBot: verified by reverse DNS
)

// Labels of the labels file: the class a client belongs to.
const (
	LabelHuman           = "human"
	LabelBot             = "bot"
	LabelVerifiedCrawler = "verified_crawler"
)

// BotKinds lists every kind that Config.Bots accepts, in a fixed order.
var BotKinds = []Kind{
	ScraperFast, ScraperSlow, CredentialStuffing, CheckoutBot, VulnProbe,
	Headless, ProxyPool, FakeCrawler, Tool, CrawlerGoogle, CrawlerBing, APIBot, BotImpostor, CrawlerRDNS,
}

// LabelOf returns the label of a kind: human, bot or verified_crawler.
func LabelOf(k Kind) string {
	switch k {
	case Human, NATOffice, HumanBeacon, FlashSale, SSOOutage:
		return LabelHuman
	case CrawlerGoogle, CrawlerBing, CrawlerRDNS:
		return LabelVerifiedCrawler
	}
	return LabelBot
}

// Format is the log format lines are written in.
type Format string

const (
	// Nginx is nginx's `combined` format.
	Nginx Format = "nginx"
	// Cloudflare is Cloudflare Logpush JSON (http_requests dataset), one object a line.
	Cloudflare Format = "cloudflare"
)

// Config says what traffic to generate. Start from DefaultConfig.
type Config struct {
	// Seed makes the run reproducible: the same Config gives the same output.
	Seed uint64
	// Start is the event time of the run's beginning (UTC is used for output).
	Start time.Time
	// Duration of event time to generate; 0 means without end (Live only).
	Duration time.Duration

	// HumansPerMinute is how many human browsing sessions start per minute.
	HumansPerMinute float64
	// BeaconHumansPerMinute is how many sessions of people on pages with
	// background requests (telemetry beacons, live search) start per minute.
	BeaconHumansPerMinute float64
	// Offices is the number of office NATs, each one IPv4 address shared by
	// OfficeUsers people with their own browsers.
	Offices     int
	OfficeUsers int

	// Bots is how many instances of each bot kind start per hour. For
	// checkout_bot the instances cluster at product drops.
	Bots map[Kind]float64
	// FirstBotsWithin makes every kind with a rate above 0 start one instance
	// within this long of Start, so that short runs show every kind; 0 leaves
	// first arrivals to chance.
	FirstBotsWithin time.Duration
	// Product drops: the first at Start+FirstDropAt, then every DropEvery
	// (0 = a single drop). Each brings checkout bots and a rush of humans.
	FirstDropAt time.Duration
	DropEvery   time.Duration
	// DropRushHumans is how many extra humans rush to a drop's product.
	DropRushHumans int

	// Campaigns are distributed and long-horizon attacks and their traps
	// (see CampaignKinds), each at its own time within the run.
	Campaigns []Campaign

	// Evasion is the fraction of bot instances (0..1) that try to pass for
	// people: browser user agents, some asset loads, referers, irregular and
	// slower timing, each kind in its own way (fake crawlers keep their claim).
	// Their labels say "evasive". 0 keeps every kind as described above.
	Evasion float64

	// IPv6Share is the fraction of humans and bots that connect over IPv6.
	IPv6Share float64
	// Host is the shop's host name, used in referers and Cloudflare's host field.
	Host string

	// Format of the lines; RequestTime appends nginx's
	// ` $request_time "$http_x_forwarded_for"` to the combined format.
	Format      Format
	RequestTime bool
}

// DefaultStart is the default start of generated files: a fixed date, so
// that files are reproducible without naming a start.
var DefaultStart = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

// DefaultBots is the default mix of bot instances started per hour.
func DefaultBots() map[Kind]float64 {
	return map[Kind]float64{
		ScraperFast:        2,
		ScraperSlow:        1,
		CredentialStuffing: 1,
		CheckoutBot:        4,
		VulnProbe:          4,
		Headless:           2,
		ProxyPool:          1,
		FakeCrawler:        2,
		Tool:               4,
		APIBot:             2,
		CrawlerGoogle:      2,
		CrawlerBing:        1,
		BotImpostor:        3,
		CrawlerRDNS:        2,
	}
}

// DefaultConfig is a medium-sized shop: about 1 million lines a simulated day.
func DefaultConfig() Config {
	return Config{
		Seed:            1,
		Start:           DefaultStart,
		Duration:        time.Hour,
		HumansPerMinute: 10,
		// Beacon humans and API bots draw from their own random sources and
		// addresses, so the other actors' traffic is what it was without them.
		BeaconHumansPerMinute: 3,
		Offices:               2,
		OfficeUsers:           40,
		Bots:                  DefaultBots(),
		FirstBotsWithin:       time.Minute,
		FirstDropAt:           3 * time.Minute,
		DropEvery:             2 * time.Hour,
		DropRushHumans:        25,
		IPv6Share:             0.15,
		Host:                  "shop.example",
		Format:                Nginx,
	}
}

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("invalid simulation config")

// Validate checks the config.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Duration < 0:
		return bad("duration %s is negative", c.Duration)
	case c.HumansPerMinute < 0 || c.BeaconHumansPerMinute < 0:
		return bad("humans per minute %g and beacon humans per minute %g must not be negative", c.HumansPerMinute, c.BeaconHumansPerMinute)
	case c.Offices < 0 || c.OfficeUsers < 0:
		return bad("offices %d and office users %d must not be negative", c.Offices, c.OfficeUsers)
	case c.Offices > 0 && c.OfficeUsers == 0:
		return bad("offices need at least one user")
	case c.Evasion < 0 || c.Evasion > 1:
		return bad("evasion %g is not within 0..1", c.Evasion)
	case c.IPv6Share < 0 || c.IPv6Share > 1:
		return bad("IPv6 share %g is not within 0..1", c.IPv6Share)
	case c.FirstBotsWithin < 0 || c.FirstDropAt < 0 || c.DropEvery < 0:
		return bad("bot and drop times must not be negative")
	case c.DropRushHumans < 0:
		return bad("drop rush humans %d is negative", c.DropRushHumans)
	case c.Host == "":
		return bad("host is empty")
	case c.Format != Nginx && c.Format != Cloudflare:
		return bad("format %q: want %s or %s", c.Format, Nginx, Cloudflare)
	case c.Start.IsZero():
		return bad("start time is not set")
	}
	for _, cp := range c.Campaigns {
		if err := validateCampaign(cp); err != nil {
			return err
		}
	}
	for k, r := range c.Bots {
		if !slices.Contains(BotKinds, k) {
			return bad("unknown bot kind %q (known: %s)", k, kindList())
		}
		if r < 0 {
			return bad("bot rate %g for %s is negative", r, k)
		}
	}
	return nil
}

func kindList() string {
	s := make([]string, len(BotKinds))
	for i, k := range BotKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
