package simulate

import (
	"container/heap"
	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// actor is one source of requests: a browsing session, a bot instance.
type actor interface {
	// step appends the actor's next requests to out, in time order and none
	// earlier than those it gave before; it appends nothing when finished.
	step(out []Request) []Request
	// self returns the actor's common state.
	self() *base
}

// entry is one element of the generator's time-ordered queue: either an
// actor with its pending requests, or an arrival process that spawns actors.
type entry struct {
	at    int64
	seq   uint64
	actor actor
	queue []Request
	next  int
	proc  *arrivals
}

// arrivals is a process that spawns actors: spawn runs at each arrival and
// after returns the following arrival's time, or -1 when there is none.
type arrivals struct {
	spawn func(at int64)
	after func(at int64) int64
}

type queue []*entry

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*entry)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// Label is what the labels file says about one client address.
type Label struct {
	Label   string `json:"label"`
	Kind    Kind   `json:"kind"`
	Evasive bool   `json:"evasive,omitempty"`
}

// Generator produces requests in event-time order. It is not safe for
// concurrent use.
type Generator struct {
	cfg   Config
	start int64
	end   int64 // 0 = no end
	rng   *rand.Rand
	addrs *addresses
	// The actors added later (beacon humans, API bots) draw from these, so
	// that they leave the older actors' requests exactly as they were.
	rng2    *rand.Rand
	addrs2  *addresses
	actors2 uint64
	// Campaign actors draw from these (see Generator.campaigns).
	rng3    *rand.Rand
	addrs3  *addresses
	actors3 uint64
	q       queue
	seq     uint64
	actors  uint64
	labels  map[netip.Addr]Label
	counts  map[Kind]int
	rdns    map[netip.Addr]crawlers.Answer
}

// New returns a generator for cfg.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{
		cfg:    cfg,
		start:  cfg.Start.UnixNano(),
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x5eed_a11c_e5)),
		labels: map[netip.Addr]Label{},
		counts: map[Kind]int{},
	}
	if cfg.Duration > 0 {
		g.end = g.start + int64(cfg.Duration)
	}
	g.addrs = newAddresses(g.rng)
	g.rng2 = rand.New(rand.NewPCG(cfg.Seed^0xb3ac_0e5, 0x5eed_a11c_e6))
	// Its own random source, but the same books: no address or network is
	// handed out twice across the two.
	g.addrs2 = newAddresses(rand.New(rand.NewPCG(cfg.Seed^0xadd2, 0x5eed_a11c_e7)))
	g.addrs2.nets, g.addrs2.taken = g.addrs.nets, g.addrs.taken
	g.schedule()
	g.campaigns()
	return g, nil
}

// Config returns the generator's configuration.
func (g *Generator) Config() Config { return g.cfg }

// Next fills r with the next request in event-time order and reports
// whether there was one; a run with a Duration ends, one without never does.
func (g *Generator) Next(r *Request) bool {
	for len(g.q) > 0 {
		e := g.q[0]
		if g.end != 0 && e.at >= g.end {
			heap.Pop(&g.q)
			continue
		}
		if e.proc != nil {
			heap.Pop(&g.q)
			e.proc.spawn(e.at)
			if nxt := e.proc.after(e.at); nxt >= 0 {
				e.at = nxt
				g.push(e)
			}
			continue
		}
		*r = e.queue[e.next]
		e.next++
		if e.next == len(e.queue) {
			e.queue = e.actor.step(e.queue[:0])
			e.next = 0
			if len(e.queue) == 0 {
				heap.Pop(&g.q)
				g.note(r)
				return true
			}
		}
		e.at = e.queue[e.next].At
		heap.Fix(&g.q, 0)
		g.note(r)
		return true
	}
	return false
}

func (g *Generator) note(r *Request) {
	if _, ok := g.labels[r.IP]; !ok {
		g.labels[r.IP] = Label{Label: LabelOf(r.Kind), Kind: r.Kind, Evasive: r.Evasive}
	}
	g.counts[r.Kind]++
}

// Labels returns the label of every client address seen so far, keyed by
// the address's string form.
func (g *Generator) Labels() map[string]Label {
	m := make(map[string]Label, len(g.labels))
	for a, l := range g.labels {
		m[a.String()] = l
	}
	return m
}

// Counts returns how many requests each kind has made so far.
func (g *Generator) Counts() map[Kind]int {
	m := make(map[Kind]int, len(g.counts))
	for k, n := range g.counts {
		m[k] = n
	}
	return m
}

func (g *Generator) push(e *entry) {
	e.seq = g.seq
	g.seq++
	heap.Push(&g.q, e)
}

// add starts an actor: its first requests go into the queue.
func (g *Generator) add(a actor) {
	reqs := a.step(nil)
	if len(reqs) == 0 {
		return
	}
	g.push(&entry{at: reqs[0].At, actor: a, queue: reqs})
}

// newBase returns an actor's common state with its own random source, so
// that one actor's choices never shift another's.
func (g *Generator) newBase(kind Kind, at int64) base {
	g.actors++
	id := g.actors
	return base{
		rng:  rand.New(rand.NewPCG(g.cfg.Seed^0x9E3779B97F4A7C15, id*0xBF58476D1CE4E5B9+uint64(len(kind)))),
		kind: kind,
		id:   id,
		now:  at,
		host: g.cfg.Host,
	}
}

// poisson returns an arrival process with exponential gaps at perHour,
// whose first arrival is within first of the start when first > 0.
func (g *Generator) poisson(perHour float64, first time.Duration, spawn func(at int64)) {
	g.poissonFrom(g.rng, perHour, first, spawn)
}

func (g *Generator) poissonFrom(rng *rand.Rand, perHour float64, first time.Duration, spawn func(at int64)) {
	if perHour <= 0 {
		return
	}
	mean := float64(time.Hour) / perHour
	gap := func() int64 { return int64(rng.ExpFloat64() * mean) }
	at := g.start + gap()
	if first > 0 {
		at = g.start + rng.Int64N(int64(first))
	}
	g.push(&entry{at: at, proc: &arrivals{spawn: spawn, after: func(t int64) int64 { return t + gap() + 1 }}})
}

// schedule sets up every arrival process of the config.
func (g *Generator) schedule() {
	c := g.cfg
	g.poisson(c.HumansPerMinute*60, 0, func(at int64) { g.add(g.newHuman(at, Human, nil, 0)) })
	for range c.Offices {
		g.office()
	}
	for _, k := range BotKinds {
		rate := c.Bots[k]
		if k == CheckoutBot || k == APIBot || rate <= 0 {
			continue
		}
		g.poisson(rate, c.FirstBotsWithin, func(at int64) { g.add(g.newBot(k, at)) })
	}
	g.drops()
	g.poissonFrom(g.rng2, c.BeaconHumansPerMinute*60, 0, func(at int64) { g.add(g.newBeaconHuman(at)) })
	g.poissonFrom(g.rng2, c.Bots[APIBot], c.FirstBotsWithin, func(at int64) { g.add(g.newAPIBot(at)) })
}

// newBase2 is newBase for the later actors (see Generator.rng2).
func (g *Generator) newBase2(kind Kind, at int64) base {
	g.actors2++
	id := 1<<40 + g.actors2
	return base{
		rng:  rand.New(rand.NewPCG(g.cfg.Seed^0x2545F4914F6CDD1D, id*0xBF58476D1CE4E5B9+uint64(len(kind)))),
		kind: kind,
		id:   id,
		now:  at,
		host: g.cfg.Host,
	}
}

// office is one NAT: its people start sessions about twice an hour each,
// all from one address, each with their own browser.
func (g *Generator) office() {
	ip, n := g.addrs.office()
	uas := make([]string, g.cfg.OfficeUsers)
	for i := range uas {
		uas[i] = browserUA(g.rng, 0.25)
	}
	o := &office{ip: ip, net: n, uas: uas}
	g.poisson(float64(len(uas))*2, 0, func(at int64) { g.add(g.newHuman(at, NATOffice, o, 0)) })
}

type office struct {
	ip  netip.Addr
	net network
	uas []string
}

// drops schedules product drops: checkout bots camp on the product before
// it goes on sale and burst at the moment it does; humans rush in too.
func (g *Generator) drops() {
	c := g.cfg
	perDrop := 0
	if r := c.Bots[CheckoutBot]; r > 0 {
		every := c.DropEvery
		if every == 0 {
			every = time.Hour
		}
		perDrop = max(1, int(math.Round(r*every.Hours())))
	}
	if perDrop == 0 && c.DropRushHumans == 0 {
		return
	}
	const lead = int64(90 * time.Second)
	first := g.start + int64(c.FirstDropAt) - lead
	if first < g.start {
		first = g.start
	}
	spawn := func(at int64) {
		dropAt := at + lead
		product := randomProduct(g.rng)
		for range perDrop {
			g.add(g.newCheckoutBot(at+g.rng.Int64N(lead*2/3), dropAt, product))
		}
		for range c.DropRushHumans {
			start := dropAt - int64(30*time.Second) + g.rng.Int64N(int64(4*time.Minute))
			g.add(g.newHuman(start, Human, nil, product))
		}
	}
	after := func(t int64) int64 {
		if c.DropEvery == 0 {
			return -1
		}
		return t + int64(c.DropEvery)
	}
	g.push(&entry{at: first, proc: &arrivals{spawn: spawn, after: after}})
}

// base is what every actor has.
type base struct {
	rng      *rand.Rand
	kind     Kind
	id       uint64
	now      int64
	host     string
	ip       netip.Addr
	net      network
	ua       string
	proto    string
	botScore int
	verified bool
	evasive  bool
}

func (b *base) self() *base { return b }

// req builds a request made by the actor at time at.
func (b *base) req(at int64, method, target string, status, bytes int, referer string) Request {
	return Request{
		At: at, IP: b.ip, Method: method, Target: target, Proto: b.proto,
		Status: status, Bytes: bytes, Referer: referer, UA: b.ua,
		Duration: 0.002 + b.rng.ExpFloat64()*0.03,
		Country:  b.net.country, ASN: b.net.asn, BotScore: b.botScore, VerifiedBot: b.verified,
		Kind: b.kind, Evasive: b.evasive, Actor: b.id,
	}
}

// url is the absolute URL of a target on the shop, as a referer names it.
func (b *base) url(target string) string { return "https://" + b.host + target }

// secs converts seconds to nanoseconds.
func secs(s float64) int64 { return int64(s * float64(time.Second)) }

// uniform returns a number in [lo, hi).
func (b *base) uniform(lo, hi float64) float64 { return lo + b.rng.Float64()*(hi-lo) }

// jitter returns d scaled by a random factor within ±frac.
func (b *base) jitter(d, frac float64) float64 { return d * (1 + frac*(2*b.rng.Float64()-1)) }

// lognormal returns a heavy-tailed positive number with the given median.
func (b *base) lognormal(median, sigma float64) float64 {
	return median * math.Exp(sigma*b.rng.NormFloat64())
}

// sortBurst orders a burst's requests by time; a page's assets arrive in
// whatever order the browser fetched them.
func sortBurst(rs []Request) {
	slices.SortStableFunc(rs, func(a, b Request) int {
		switch {
		case a.At < b.At:
			return -1
		case a.At > b.At:
			return 1
		}
		return 0
	})
}
