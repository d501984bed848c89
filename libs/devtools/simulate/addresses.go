package simulate

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
)

// network is a range clients are drawn from, with what a CDN would know about it.
type network struct {
	prefix  netip.Prefix
	asn     uint32
	country string
}

func nw(p string, asn uint32, country string) network {
	return network{netip.MustParsePrefix(p), asn, country}
}

// Address pools. Documentation ranges (RFC 5737, RFC 3849, ASN 64496..64511)
// are mixed with realistic ones so that output looks like a real shop's log;
// the realistic ones are where such clients usually come from (broadband
// ISPs for humans, hosting providers for bots), not claims about anyone.
var (
	residential4 = []network{
		nw("73.0.0.0/8", 7922, "US"),      // cable ISP
		nw("98.192.0.0/10", 7922, "US"),   // cable ISP
		nw("71.160.0.0/11", 701, "US"),    // DSL/fibre ISP
		nw("84.128.0.0/10", 3320, "DE"),   // DSL ISP
		nw("86.128.0.0/10", 2856, "GB"),   // DSL ISP
		nw("90.0.0.0/9", 3215, "FR"),      // DSL/fibre ISP
		nw("2.32.0.0/11", 12874, "IT"),    // fibre ISP
		nw("83.160.0.0/14", 3265, "NL"),   // DSL ISP
		nw("172.56.0.0/14", 21928, "US"),  // mobile carrier
		nw("203.0.113.0/24", 64496, "AU"), // TEST-NET-3
	}
	residential6 = []network{
		nw("2001:db8::/33", 64497, "US"),  // documentation, lower half
		nw("2a02:8100::/24", 3209, "DE"),  // cable ISP
		nw("2600:1700::/28", 7018, "US"),  // fibre ISP
		nw("2a01:cb00::/24", 3215, "FR"),  // fibre ISP
		nw("2607:fb90::/32", 21928, "US"), // mobile carrier
	}
	business4 = []network{
		nw("198.18.0.0/15", 64498, "US"), // benchmarking range (RFC 2544)
		nw("62.96.0.0/13", 3320, "DE"),
		nw("193.0.0.0/11", 1273, "GB"),
	}
	datacenter4 = []network{
		nw("192.0.2.0/24", 64499, "US"),     // TEST-NET-1
		nw("198.51.100.0/24", 64500, "NL"),  // TEST-NET-2
		nw("159.89.0.0/16", 14061, "US"),    // VPS provider
		nw("167.99.0.0/16", 14061, "DE"),    // VPS provider
		nw("51.68.0.0/16", 16276, "FR"),     // hosting provider
		nw("145.239.0.0/16", 16276, "PL"),   // hosting provider
		nw("95.216.0.0/16", 24940, "FI"),    // hosting provider
		nw("65.108.0.0/16", 24940, "FI"),    // hosting provider
		nw("3.64.0.0/12", 16509, "DE"),      // cloud provider
		nw("18.184.0.0/15", 16509, "DE"),    // cloud provider
		nw("45.32.0.0/16", 20473, "US"),     // VPS provider
		nw("185.220.100.0/22", 64501, "DE"), // anonymising relays
	}
	datacenter6 = []network{
		nw("2001:db8:8000::/33", 64502, "US"), // documentation, upper half
		nw("2a01:4f8::/32", 24940, "DE"),      // hosting provider
		nw("2604:a880::/32", 14061, "US"),     // VPS provider
		nw("2a05:d014::/32", 16509, "DE"),     // cloud provider
	}
	// Real crawlers come from their published ranges, as shipped with
	// Bulwark (libs/detect/crawlers): Googlebot's /27s within 66.249.64.0/19 and
	// bingbot's 157.55.39.0/24 and 40.77.167.0/24.
	googleCrawl = published("googlebot", 15169, "66.249.64.0/19")
	bingCrawl   = published("bingbot", 8075, "157.55.39.0/24", "40.77.167.0/24")
)

// published returns the crawler's shipped IPv4 prefixes inside within.
func published(name string, asn uint32, within ...string) []network {
	data, err := crawlers.Builtin(name)
	if err != nil {
		panic(err) // shipped with the binary; TestKindsAndLabels covers it
	}
	prefixes, err := crawlers.ParseRanges(data)
	if err != nil {
		panic(err)
	}
	var out []network
	for _, p := range prefixes {
		for _, w := range within {
			if wp := netip.MustParsePrefix(w); wp.Overlaps(p) && p.Bits() >= wp.Bits() {
				out = append(out, network{p, asn, "US"})
			}
		}
	}
	if len(out) == 0 {
		panic("simulate: no shipped " + name + " ranges within " + fmt.Sprint(within))
	}
	return out
}

type owner uint8

const (
	free owner = iota
	ownHuman
	ownBot
)

// addresses hands out client addresses so that no bot shares a /24 (or /64)
// with anyone else and no address is used twice by different actors: a
// replay's net-level verdicts then say something about one actor, and a
// labels file has one truth per address. Office NATs get a /24 to themselves.
type addresses struct {
	rng    *rand.Rand
	nets   map[netip.Prefix]owner
	taken  map[netip.Addr]bool
	recent [2][]homeAddr // recent human addresses by family (v4, v6), a ring
	next   [2]int
	pools  *poolSet
}

// poolSet is where an address book draws from.
type poolSet struct{ home4, home6, business4, dc4, dc6 []network }

var defaultPools = &poolSet{residential4, residential6, business4, datacenter4, datacenter6}

// homeAddr is a household's address, for people who come back or browse
// from a second device.
type homeAddr struct {
	ip  netip.Addr
	net network
}

const (
	recentHomes = 512
	returnShare = 0.25 // sessions from an address seen recently
)

func newAddresses(rng *rand.Rand) *addresses {
	return &addresses{rng: rng, nets: map[netip.Prefix]owner{}, taken: map[netip.Addr]bool{}, pools: defaultPools}
}

// aggregate is the /24 or /64 an address is judged with.
func aggregate(a netip.Addr) netip.Prefix {
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}

// randomIn returns a random address in p that is not a /24's network or broadcast address.
func randomIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		lo := i * 8
		if lo+8 <= bits {
			continue
		}
		r := byte(rng.UintN(256))
		if lo < bits {
			keep := byte(0xFF) << (8 - (bits - lo))
			r = b[i]&keep | r&^keep
		}
		b[i] = r
	}
	if len(b) == 4 && bits <= 24 && (b[3] == 0 || b[3] == 255) {
		b[3] = byte(1 + rng.UintN(254))
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func pick(rng *rand.Rand, pools []network) network { return pools[rng.IntN(len(pools))] }

// human returns an address for a person: any /24 not owned by a bot or an
// office; a quarter of the time one that a person used recently (someone
// coming back, another device in the same home).
func (a *addresses) human(v6 bool) (netip.Addr, network) {
	pools, fam := a.pools.home4, 0
	if v6 {
		pools, fam = a.pools.home6, 1
	}
	if r := a.recent[fam]; len(r) > 0 && a.rng.Float64() < returnShare {
		h := r[a.rng.IntN(len(r))]
		return h.ip, h.net
	}
	for {
		n := pick(a.rng, pools)
		ip := randomIn(a.rng, n.prefix)
		agg := aggregate(ip)
		if a.taken[ip] || a.nets[agg] == ownBot {
			continue
		}
		a.nets[agg] = ownHuman
		a.taken[ip] = true
		if len(a.recent[fam]) < recentHomes {
			a.recent[fam] = append(a.recent[fam], homeAddr{ip, n})
		} else {
			a.recent[fam][a.next[fam]] = homeAddr{ip, n}
			a.next[fam] = (a.next[fam] + 1) % recentHomes
		}
		return ip, n
	}
}

// freshNet returns an unused /24 or /64 from pools, now owned by o.
func (a *addresses) freshNet(pools []network, o owner) (netip.Prefix, network) {
	for {
		n := pick(a.rng, pools)
		agg := aggregate(randomIn(a.rng, n.prefix))
		if a.nets[agg] != free {
			continue
		}
		a.nets[agg] = o
		return agg, n
	}
}

// bot returns count distinct addresses in a fresh datacenter /24 (or /64).
func (a *addresses) bot(v6 bool, count int) ([]netip.Addr, network) {
	pools := a.pools.dc4
	if v6 {
		pools = a.pools.dc6
	}
	agg, n := a.freshNet(pools, ownBot)
	ips := make([]netip.Addr, 0, count)
	for len(ips) < count {
		ip := randomIn(a.rng, agg)
		if a.taken[ip] {
			continue
		}
		a.taken[ip] = true
		ips = append(ips, ip)
	}
	return ips, n
}

// office returns a NAT address alone in its /24.
func (a *addresses) office() (netip.Addr, network) {
	agg, n := a.freshNet(a.pools.business4, ownHuman)
	ip := randomIn(a.rng, agg)
	a.taken[ip] = true
	return ip, n
}

// crawler returns count addresses from a crawler's published ranges; they
// may repeat across instances, as a crawler's fleet does.
func crawlerAddrs(rng *rand.Rand, pools []network, count int) ([]netip.Addr, network) {
	n := pick(rng, pools)
	ips := make([]netip.Addr, count)
	for i := range ips {
		ips[i] = randomIn(rng, n.prefix)
	}
	return ips, n
}
