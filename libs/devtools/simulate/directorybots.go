package simulate

import (
	"net/netip"
	"strings"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
)

// rdnsBot is a directory bot that reverse DNS verifies: the real one
// crawls from its operator's network, whose PTR names end in its domain.
type rdnsBot struct {
	ua   []string
	nets []network
	// ptr names an address of the bot's network ("crawl-1-2-3-4.x.example").
	ptr func(netip.Addr) string
}

func dashed(a netip.Addr) string { return strings.NewReplacer(".", "-", ":", "-").Replace(a.String()) }

// The real crawlers verified by reverse DNS only, from networks their
// operators use (ASN, country as registered).
var rdnsBots = []rdnsBot{
	{
		ua:   []string{"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"},
		nets: []network{nw("180.76.15.0/24", 55967, "CN"), nw("116.179.32.0/24", 4837, "CN")},
		ptr:  func(a netip.Addr) string { return "baiduspider-" + dashed(a) + ".crawl.baidu.com" },
	},
	{
		ua:   []string{"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"},
		nets: []network{nw("5.255.253.0/24", 13238, "RU"), nw("213.180.203.0/24", 13238, "RU")},
		ptr:  func(a netip.Addr) string { return dashed(a) + ".spider.yandex.com" },
	},
	{
		ua:   []string{"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"},
		nets: []network{nw("54.36.148.0/24", 16276, "FR"), nw("54.36.149.0/24", 16276, "FR")},
		ptr:  func(a netip.Addr) string { return "ip-" + dashed(a) + ".a.ahrefs.com" },
	},
	{
		ua:   []string{"Mozilla/5.0 (compatible; SeznamBot/4.0; +https://o-seznam.cz/napoveda/vyhledavani/en/seznambot-crawler/)"},
		nets: []network{nw("77.75.78.0/24", 43037, "CZ")},
		ptr:  func(a netip.Addr) string { return "fulltextrobot-" + dashed(a) + ".seznam.cz" },
	},
}

// impostorUAs are the claims an impostor makes: every kind of directory
// bot that can be checked, by published ranges or by reverse DNS.
var impostorUAs = []string{
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
	"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
	"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
	"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
	"Mozilla/5.0 (compatible; SeznamBot/4.0; +https://o-seznam.cz/napoveda/vyhledavani/en/seznambot-crawler/)",
	"Mozilla/5.0 (compatible;PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
	"Mozilla/5.0 (compatible; Amazonbot/0.1; +https://developer.amazon.com/support/amazonbot)",
	"AdsBot-Google (+http://www.google.com/adsbot.html)",
}

// noteRDNS records what reverse DNS says about a client claiming a bot
// that reverse DNS can check: its PTR name, and whether it leads back.
func (g *Generator) noteRDNS(a netip.Addr, ptr string, confirmed bool) {
	if g.rdns == nil {
		g.rdns = map[netip.Addr]crawlers.Answer{}
	}
	ans := crawlers.Answer{Addr: a, PTR: []string{ptr}, At: g.cfg.Start.UTC()}
	if confirmed {
		ans.Confirmed = []string{ptr}
	} else {
		ans.Refuted = []string{ptr}
	}
	g.rdns[a] = ans
}

// RDNSAnswers returns the reverse-DNS answers a live decider would have
// cached for this traffic: a confirmed PTR name for every real crawler
// verified by reverse DNS, a name outside every bot's domain for every
// impostor. Written as an rDNS cache file, it lets replay check claims
// the way the live decider does (`bulwark simulate --rdns-cache`).
func (g *Generator) RDNSAnswers() []crawlers.Answer {
	out := make([]crawlers.Answer, 0, len(g.rdns))
	for _, a := range g.rdns {
		out = append(out, a)
	}
	return out
}
