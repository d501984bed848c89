package simulate

import "strconv"

type pageKind uint8

const (
	pgHome pageKind = iota
	pgCategory
	pgProduct
	pgSearch
	pgCart
	pgCheckout
	pgConfirmation
	pgLogin
	pgAccount
	pgInfo
)

// human is one browsing session: page views with their assets, think times
// between them, and sometimes a login (with an occasional typo), a cart and
// a checkout.
type human struct {
	base
	cached    bool // the browser has the site's static assets
	favicon   bool
	started   bool
	page      string
	kind      pageKind
	cat       string
	catPage   int
	product   int
	pagesLeft int
	loggedIn  bool
	typoDone  bool
	cart      int
	rush      int // a drop's product this person came for, 0 if none
	rushTries int
	afterLog  string
	nextThink int64 // when > 0, the pause before the next action (drawn ahead by beaconHuman)
}

// newHuman starts a session; o is the office NAT it browses from, if any,
// and rush the product of a drop it came for (0 for none).
func (g *Generator) newHuman(at int64, kind Kind, o *office, rush int) *human {
	return g.humanFrom(g.newBase(kind, at), g.addrs, o, rush)
}

// humanFrom starts a session with the given common state and address book.
func (g *Generator) humanFrom(b base, addrs *addresses, o *office, rush int) *human {
	h := &human{base: b, rush: rush}
	if o != nil {
		h.ip, h.net = o.ip, o.net
		h.ua = oneOf(h.rng, o.uas)
	} else {
		h.ip, h.net = addrs.human(h.rng.Float64() < g.cfg.IPv6Share)
		h.ua = browserUA(h.rng, 0.45)
	}
	h.proto = "HTTP/2.0"
	if h.rng.Float64() < 0.15 {
		h.proto = "HTTP/1.1"
	}
	h.botScore = 30 + h.rng.IntN(70)
	if h.rng.Float64() < 0.01 {
		h.botScore = 5 + h.rng.IntN(25)
	}
	h.cached = h.rng.Float64() < 0.25
	if h.rng.Float64() < 0.35 && rush == 0 {
		h.pagesLeft = 1
	} else {
		h.pagesLeft = 2 + int(h.rng.ExpFloat64()*9)
	}
	h.pagesLeft = min(h.pagesLeft, 80)
	return h
}

func (h *human) step(out []Request) []Request {
	if !h.started {
		h.started = true
		return h.enter(out)
	}
	if h.pagesLeft <= 0 {
		return out
	}
	h.pagesLeft--
	if h.nextThink > 0 {
		h.now += h.nextThink
		h.nextThink = 0
	} else {
		h.now += h.think()
	}
	return h.act(out)
}

// think returns the pause before the next action: seconds to minutes,
// heavy-tailed, longer on forms.
func (h *human) think() int64 {
	median := 9.0
	switch h.kind {
	case pgCheckout:
		median = 40
	case pgLogin:
		median = 7
	case pgProduct:
		median = 14
	}
	s := h.lognormal(median, 1.0)
	if h.rng.Float64() < 0.04 {
		s += h.uniform(120, 1800) // another tab, a phone call
	}
	return secs(max(1.2, min(s, 3600)))
}

func (h *human) enter(out []Request) []Request {
	if h.rush != 0 {
		return h.view(out, productPath(h.rush), pgProduct, oneOf(h.rng, socialReferers))
	}
	ref := ""
	switch x := h.rng.Float64(); {
	case x < 0.45:
		ref = oneOf(h.rng, searchReferers)
	case x < 0.6:
		ref = oneOf(h.rng, socialReferers)
	}
	switch x := h.rng.Float64(); {
	case x < 0.4:
		return h.view(out, "/", pgHome, ref)
	case x < 0.65:
		h.cat, h.catPage = oneOf(h.rng, categories), 1
		return h.view(out, categoryPath(h.cat, 1), pgCategory, ref)
	default:
		h.product = randomProduct(h.rng)
		return h.view(out, productPath(h.product), pgProduct, ref)
	}
}

// act does the next thing from the current page.
func (h *human) act(out []Request) []Request {
	ref := h.url(h.page)
	if (h.kind == pgCategory || h.kind == pgSearch) && h.rng.Float64() < 0.06 {
		return h.openTabs(out, ref)
	}
	x := h.rng.Float64()
	switch h.kind {
	case pgLogin:
		return h.submitLogin(out)
	case pgCheckout:
		if x < 0.85 {
			return h.submitCheckout(out)
		}
		return h.view(out, "/cart", pgCart, ref)
	case pgConfirmation:
		if x < 0.8 {
			h.pagesLeft = 0
			return h.view(out, "/account/orders", pgAccount, ref)
		}
		return h.view(out, "/", pgHome, ref)
	case pgProduct:
		if h.rush != 0 && h.rushTries < 3 && x < 0.5 {
			h.rushTries++ // sold out? reload and hope
			return h.view(out, h.page, pgProduct, ref)
		}
		switch {
		case h.rush != 0 || x < 0.14:
			return h.addToCart(out)
		case x < 0.44:
			h.product = randomProduct(h.rng)
			return h.view(out, productPath(h.product), pgProduct, ref)
		case x < 0.72:
			if h.cat == "" {
				h.cat, h.catPage = oneOf(h.rng, categories), 1
			}
			return h.view(out, categoryPath(h.cat, h.catPage), pgCategory, ref)
		case x < 0.8:
			return h.search(out, ref)
		case x < 0.86 && h.cart > 0:
			return h.view(out, "/cart", pgCart, ref)
		case x < 0.91 && !h.loggedIn:
			h.afterLog = h.page
			return h.view(out, "/login", pgLogin, ref)
		default:
			return h.view(out, "/", pgHome, ref)
		}
	case pgCategory:
		switch {
		case x < 0.6:
			h.product = h.listed(h.rng.IntN(24))
			return h.view(out, productPath(h.product), pgProduct, ref)
		case x < 0.8 && h.catPage < pagesPerCat:
			h.catPage++
			return h.view(out, categoryPath(h.cat, h.catPage), pgCategory, ref)
		case x < 0.9:
			h.cat, h.catPage = oneOf(h.rng, categories), 1
			return h.view(out, categoryPath(h.cat, 1), pgCategory, ref)
		case x < 0.95:
			return h.search(out, ref)
		default:
			return h.view(out, "/", pgHome, ref)
		}
	case pgSearch:
		switch {
		case x < 0.7:
			h.product = randomProduct(h.rng)
			return h.view(out, productPath(h.product), pgProduct, ref)
		case x < 0.85:
			return h.search(out, ref)
		default:
			h.cat, h.catPage = oneOf(h.rng, categories), 1
			return h.view(out, categoryPath(h.cat, 1), pgCategory, ref)
		}
	case pgCart:
		switch {
		case h.cart > 0 && x < 0.5:
			if !h.loggedIn && h.rng.Float64() < 0.5 {
				h.afterLog = "/checkout"
				return h.view(out, "/login?next=/checkout", pgLogin, ref)
			}
			return h.view(out, "/checkout", pgCheckout, ref)
		case x < 0.75:
			h.product = randomProduct(h.rng)
			return h.view(out, productPath(h.product), pgProduct, ref)
		default:
			h.cat, h.catPage = oneOf(h.rng, categories), 1
			return h.view(out, categoryPath(h.cat, 1), pgCategory, ref)
		}
	case pgHome, pgAccount, pgInfo:
		switch {
		case x < 0.55:
			h.cat, h.catPage = oneOf(h.rng, categories), 1
			return h.view(out, categoryPath(h.cat, 1), pgCategory, ref)
		case x < 0.75:
			return h.search(out, ref)
		case x < 0.9:
			h.product = randomProduct(h.rng)
			return h.view(out, productPath(h.product), pgProduct, ref)
		default:
			return h.view(out, oneOf(h.rng, infoPages), pgInfo, ref)
		}
	}
	return h.view(out, "/", pgHome, ref)
}

// listed is the i-th product on the current category page.
func (h *human) listed(i int) int {
	c := 0
	for _, b := range []byte(h.cat) {
		c = c*31 + int(b)
	}
	return firstProduct + (c*977+h.catPage*24+i)%productCount
}

// openTabs opens several listed products in new tabs in quick succession
// (a keen shopper's burst of page loads), then reads them one by one.
func (h *human) openTabs(out []Request, ref string) []Request {
	n := 4 + h.rng.IntN(7)
	first := h.rng.IntN(24)
	for i := range n {
		h.product = h.listed((first + i) % 24)
		out = h.view(out, productPath(h.product), pgProduct, ref)
		h.now += secs(h.uniform(0.1, 0.6))
	}
	h.pagesLeft = max(0, h.pagesLeft-n/2)
	return out
}

func (h *human) search(out []Request, ref string) []Request {
	return h.view(out, "/search?q="+oneOf(h.rng, searches), pgSearch, ref)
}

func (h *human) addToCart(out []Request) []Request {
	ref := h.url(h.page)
	status := 302
	if h.rush != 0 && h.rng.Float64() < 0.3 {
		status = 409 // sold out in the rush
	}
	out = append(out, h.req(h.now, "POST", "/cart/add", status, 0, ref))
	if status == 409 {
		h.rush = 0
		h.now += secs(h.uniform(0.2, 0.6))
		return h.view(out, h.page, pgProduct, ref)
	}
	h.cart++
	h.rush = 0
	h.now += secs(h.uniform(0.1, 0.4))
	return h.view(out, "/cart", pgCart, ref)
}

func (h *human) submitLogin(out []Request) []Request {
	ref := h.url(h.page)
	if !h.typoDone && h.rng.Float64() < 0.12 {
		h.typoDone = true
		out = append(out, h.req(h.now, "POST", "/login", 401, 17_900+h.rng.IntN(400), ref))
		h.pagesLeft++ // one more try
		return out
	}
	out = append(out, h.req(h.now, "POST", "/login", 302, 0, ref))
	h.loggedIn = true
	h.now += secs(h.uniform(0.1, 0.3))
	next := h.afterLog
	if next == "" {
		next = "/account"
	}
	k := pgAccount
	switch next {
	case "/checkout":
		k = pgCheckout
	default:
		if len(next) > 9 && next[:9] == "/product/" {
			k = pgProduct
		}
	}
	return h.view(out, next, k, ref)
}

func (h *human) submitCheckout(out []Request) []Request {
	ref := h.url(h.page)
	out = append(out, h.req(h.now, "POST", "/api/checkout/payment-intent", 200, 310, ref))
	h.now += secs(h.uniform(1.5, 6))
	out = append(out, h.req(h.now, "POST", "/checkout", 302, 0, ref))
	h.now += secs(h.uniform(0.1, 0.4))
	h.cart = 0
	h.pagesLeft = max(h.pagesLeft, 1)
	return h.view(out, "/checkout/confirmation", pgConfirmation, ref)
}

// view loads a page as a browser does: the HTML, then (uncached) static
// assets, images and a couple of API calls, each a little later.
func (h *human) view(out []Request, target string, k pageKind, referer string) []Request {
	from := len(out)
	h.page, h.kind = target, k
	status, size := 200, 0
	switch k {
	case pgHome:
		size = pageBytes(h.rng, 61_000)
	case pgCategory, pgSearch:
		size = pageBytes(h.rng, 84_000)
	case pgProduct:
		size = pageBytes(h.rng, 52_000)
		if h.rng.Float64() < 0.006 {
			status, size = 404, 9_800 // a stale link
		}
	default:
		size = pageBytes(h.rng, 24_000)
	}
	html := h.req(h.now, "GET", target, status, size, referer)
	html.Duration = 0.02 + h.rng.ExpFloat64()*0.12
	out = append(out, html)
	pageURL := h.url(target)
	t := h.now + secs(html.Duration+h.uniform(0.02, 0.15))
	load := func(a asset, delay float64, ref string) {
		r := h.req(t+secs(delay), "GET", a.path, 200, a.bytes, ref)
		out = append(out, r)
	}
	if !h.cached {
		h.cached = true
		for _, a := range pageAssets {
			load(a, h.uniform(0, 0.25), pageURL)
		}
	} else if h.rng.Float64() < 0.03 {
		r := h.req(t+secs(h.uniform(0, 0.2)), "GET", pageAssets[0].path, 304, 0, pageURL)
		out = append(out, r)
	}
	if !h.favicon {
		h.favicon = true
		load(asset{"/favicon.ico", 15_086}, h.uniform(0.2, 0.6), pageURL)
	}
	if status == 200 {
		switch k {
		case pgCategory, pgSearch:
			n := 8 + h.rng.IntN(17) // lazy loading: what scrolled into view
			for i := range n {
				id := h.listed(i)
				if k == pgSearch {
					id = randomProduct(h.rng)
				}
				load(productThumb(id), h.uniform(0.05, 0.5)+float64(i)*h.uniform(0.02, 0.3), pageURL)
			}
		case pgProduct:
			for i := range 2 + h.rng.IntN(5) {
				load(productImage(h.product, i+1), h.uniform(0.05, 0.4)+float64(i)*h.uniform(0.1, 1.5), pageURL)
			}
			load(asset{"/api/products/" + strconv.Itoa(h.product) + "/reviews?page=1", 2_400 + h.rng.IntN(3_000)}, h.uniform(0.3, 1.5), pageURL)
		case pgHome:
			load(asset{"/img/hero/winter-26.webp", 182_344}, h.uniform(0.05, 0.3), pageURL)
			for i := range 6 {
				load(productThumb(firstProduct+i*37), h.uniform(0.1, 0.8), pageURL)
			}
		}
		load(asset{"/api/cart/count", 24}, h.uniform(0.2, 0.9), pageURL)
	}
	sortBurst(out[from:])
	h.now = max(h.now, out[len(out)-1].At) + secs(0.05)
	return out
}
