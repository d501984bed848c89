package simulate

import (
	"fmt"
	"slices"
)

// beaconHuman is a person on a modern shop whose pages run scripts: while
// the person reads, the page posts telemetry every ~2 s (analytics, RUM,
// keep-alive), and typing in the search box calls a live-search endpoint
// per keystroke. Most of such a person's requests are background requests,
// regular as a script's; the person is still a person.
type beaconHuman struct {
	*human
	every float64 // seconds between beacons
}

func (g *Generator) newBeaconHuman(at int64) *beaconHuman {
	h := &human{base: g.newBase2(HumanBeacon, at)}
	h.ip, h.net = g.addrs2.human(h.rng.Float64() < g.cfg.IPv6Share)
	h.ua = browserUA(h.rng, 0.45)
	h.proto = "HTTP/2.0"
	h.botScore = 30 + h.rng.IntN(70)
	h.cached = h.rng.Float64() < 0.25
	h.pagesLeft = min(2+int(h.rng.ExpFloat64()*9), 80)
	return &beaconHuman{human: h, every: h.uniform(1.8, 2.2)}
}

func (b *beaconHuman) step(out []Request) []Request {
	from := len(out)
	out = b.human.step(out)
	if len(out) == from {
		return out
	}
	at := b.now // the page just viewed
	read := b.think()
	if b.pagesLeft > 0 {
		b.nextThink = read
	} else {
		read = secs(b.lognormal(45, 1)) // the last page is read too, then the tab closes
	}
	ref := b.url(b.page)
	if b.kind == pgSearch || b.rng.Float64() < 0.1 {
		// Live search: one call per keystroke while typing.
		t := at + secs(b.uniform(1, 4))
		word := oneOf(b.rng, []string{"jacket", "sneakers", "union jack", "wool scarf", "backpack", "rain boots"})
		for i := 1; i <= len(word) && t < at+read-secs(0.3); i++ {
			q := word[:i]
			out = append(out, b.req(t, "GET", "/api/search/suggest?q="+queryEscape(q), 200, 300+b.rng.IntN(2000), ref))
			t += secs(b.uniform(0.12, 0.45))
		}
	}
	for t := at + secs(b.uniform(0.8, 2)); t < at+read-secs(0.3); t += secs(b.every + b.uniform(-0.1, 0.1)) {
		out = append(out, b.req(t, "POST", "/api/telemetry", 204, 0, ref))
	}
	// The next page comes after everything this one did (a lazy-loaded
	// image may come late).
	last := at
	for _, r := range out[from:] {
		last = max(last, r.At)
	}
	if b.pagesLeft > 0 && at+b.nextThink <= last {
		b.nextThink = last - at + secs(0.5)
	}
	slices.SortStableFunc(out[from:], func(x, y Request) int {
		switch {
		case x.At < y.At:
			return -1
		case x.At > y.At:
			return 1
		}
		return 0
	})
	return out
}

func queryEscape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			out = append(out, '+')
		} else {
			out = append(out, s[i])
		}
	}
	return string(out)
}

// apiBot polls one API endpoint every ~2 s (prices, stock, a search) with a
// browser's user agent and the shop as referer, and never loads a page or
// an asset: the same rhythm as a page's telemetry, without the page.
type apiBot struct {
	base
	every    float64
	until    int64
	endpoint string
	page     int
	jitter   float64 // share of every that the gaps vary by
}

func (g *Generator) newAPIBot(at int64) *apiBot {
	b := g.newBase2(APIBot, at)
	ips, n := g.addrs2.bot(b.rng.Float64() < g.cfg.IPv6Share, 1)
	b.ip, b.net = ips[0], n
	b.proto = "HTTP/1.1"
	b.ua = browserUA(b.rng, 0.2)
	b.botScore = 1 + b.rng.IntN(20)
	a := &apiBot{base: b, every: b.uniform(1.5, 3), until: at + secs(b.uniform(600, 2400)),
		endpoint: oneOf(b.rng, []string{"/api/products", "/api/stock", "/api/prices"}), page: 1}
	if g.cfg.Evasion > 0 && b.rng.Float64() < g.cfg.Evasion {
		// Slower and irregular, still without pages.
		a.evasive, a.every, a.jitter = true, b.uniform(4, 10), 0.4
	}
	return a
}

func (a *apiBot) step(out []Request) []Request {
	if a.now >= a.until {
		return out
	}
	for range 15 {
		target := fmt.Sprintf("%s?page=%d&limit=50", a.endpoint, a.page)
		a.page++
		out = append(out, a.req(a.now, "GET", target, 200, 8_000+a.rng.IntN(30_000), a.url("/")))
		j := max(0.05, a.jitter*a.every)
		a.now += secs(a.every + a.uniform(-j, j))
	}
	return out
}
