package features

import (
	"math"
	"math/bits"

	"github.com/bulwarkhq/bulwark/libs/detect/window"
)

// Bucket widths, in nanoseconds.
const (
	sec    = int64(1e9)
	tenSec = 10 * sec
	minute = 60 * sec
	tenMin = 10 * minute
	half   = 5 * minute // distinct-count halves: the "10 min" distinct counts cover 5..10 min
)

// Obs is one request reduced to what the states need, computed once per
// event and shared by the event's ip, session and net states.
type Obs struct {
	T        int64 // event time, Unix ns
	Flags    ReqFlags
	Status   uint32
	PathHash uint64
	Sig      uint32 // signature matches (SigBits of each matched category), 0 for none
	SigID    uint32 // the strongest matched signature (signatures.IDHash), 0 for none
	SigSev   uint8  // its severity
	ID       uint32 // trailing numeric id of the path, when HasID
	HasID    bool
	UAHash   uint64
	UA       UAFlags
	CDNBot   uint8 // the CDN's bot score 1..99; 0 when not logged
	Session  uint64
	IP       uint64
	Country  uint16 // CountryCode of the client's country, 0 when unknown
	ASN      uint32 // the client's AS number, 0 when unknown
	Hosting  bool   // ASN is a hosting or cloud network (HostingASNs)
}

// Behaviour is the windowed state of an ip: or session: subject. It is a
// flat value (about 350 bytes) so that states live in slabs and snapshot as
// bytes; fields are exported for encoding/binary.
type Behaviour struct {
	Last int64 // newest event time; the head of every ring

	Sec         [10]uint16 // requests per second, 10 s
	Ten         [6]uint16  // requests per 10 s, 1 min
	LoginFail1m [6]uint8   // failed logins per 10 s, 1 min
	Post1m      [6]uint8   // POSTs to login/cart/checkout per 10 s, 1 min

	// per minute, 10 min
	Req, Asset, S404, RefMissing, ALLogged, ALMissing [10]uint16
	Enum, LoginFail, S429, Sensitive                  [10]uint8
	Malformed                                         [10]uint8
	SigHits                                           [10]uint8
	Sig                                               [10]uint32 // SigBits of the minute's matches
	SigID                                             uint32     // strongest recent signature (for reasons)
	SigAt                                             int64      // when it matched
	Bg                                                [10]uint16 // background requests per minute (see background)
	LastNav                                           int64      // time of the newest navigation (non-background) request
	BgPath                                            uint32     // the client's most repeated non-asset path (majority vote)
	BgVotes                                           uint8
	Browser                                           bool               // has loaded a static asset: runs pages in a browser
	Hour                                              [6]uint32          // requests per 10 min, 1 h
	Paths                                             window.Distinct512 // distinct page paths, 2 x 5 min

	IATMean, IATVar float32 // exponentially weighted inter-arrival time, seconds
	LastID          uint32
	UAHash          uint32
	IATN            uint8 // intervals seen (saturating)
	SigSev          uint8 // severity of SigID
	UA              UAFlags
	HasLastID       bool
	CDNBot          uint8
	Country         uint16 // of the newest request (CountryCode), for country_rarity
	ASN             uint32 // of the newest request, for asn_rarity
}

// iatAlpha weighs the newest inter-arrival time: ~1/8 means the statistic
// follows the last 10-20 requests, i.e. about a minute of a slow client.
const iatAlpha = 1.0 / 8

// Reset makes b a fresh state: a subject idle for longer than the longest
// window starts over, whether or not its state was expired meanwhile, so
// expiry timing never changes a score.
func (b *Behaviour) Reset() { *b = Behaviour{} }

// Update adds one request.
func (b *Behaviour) Update(o *Obs) {
	t := o.T
	prev := b.Last
	bg := b.background(o)
	if !bg && t >= b.LastNav {
		// Timing regularity is over navigations: a page script's beacon
		// every 2 s is as regular as a bot and says nothing about the person.
		if b.LastNav != 0 && b.UAHash != 0 {
			dt := float32(t-b.LastNav) / 1e9
			if b.IATN == 0 {
				b.IATMean = dt
			} else {
				d := dt - b.IATMean
				inc := iatAlpha * d
				b.IATMean += inc
				b.IATVar = (1 - iatAlpha) * (b.IATVar + d*inc)
			}
			b.IATN = min(b.IATN+1, 255)
		}
		b.LastNav = t
	}
	if t >= prev {
		b.slide(prev, t)
		b.Last = t
		if o.Country != 0 || o.ASN != 0 {
			b.Country, b.ASN = o.Country, o.ASN
		}
	}
	head := b.Last
	f := o.Flags
	hs, ts, ms, hh := window.Slot(head, sec), window.Slot(head, tenSec), window.Slot(head, minute), window.Slot(head, tenMin)
	s, tsl, m, h := window.Slot(t, sec), window.Slot(t, tenSec), window.Slot(t, minute), window.Slot(t, tenMin)
	window.Add(b.Sec[:], hs, s, 1)
	window.Add(b.Ten[:], ts, tsl, 1)
	window.Add(b.Hour[:], hh, h, 1)
	if !window.Add(b.Req[:], ms, m, 1) {
		return // older than the 10 min window: only the 1 h total counts it
	}
	asset := f&ReqAsset != 0
	switch {
	case asset:
		window.Add(b.Asset[:], ms, m, 1)
		b.Browser = true
	case bg:
		window.Add(b.Bg[:], ms, m, 1)
	default:
		b.Paths.Add(o.PathHash, window.Slot(head, half), window.Slot(t, half))
		if f&ReqRefererMissing != 0 {
			window.Add(b.RefMissing[:], ms, m, 1)
		}
		if o.HasID {
			if d := int64(o.ID) - int64(b.LastID); b.HasLastID && d != 0 && d >= -3 && d <= 3 {
				window.Add(b.Enum[:], ms, m, 1)
			}
			b.LastID, b.HasLastID = o.ID, true
		}
		if f&ReqDeepPage != 0 {
			window.Add(b.Enum[:], ms, m, 1)
		}
	}
	switch o.Status {
	case 404:
		window.Add(b.S404[:], ms, m, 1)
	case 429:
		window.Add(b.S429[:], ms, m, 1)
	case 401, 403:
		if f&ReqLogin != 0 {
			window.Add(b.LoginFail[:], ms, m, 1)
			window.Add(b.LoginFail1m[:], ts, tsl, 1)
		}
	}
	if f&ReqSensitive != 0 {
		window.Add(b.Sensitive[:], ms, m, 1)
	}
	if f&ReqMalformed != 0 {
		window.Add(b.Malformed[:], ms, m, 1)
	}
	if f&ReqLoginFailed != 0 && o.Status != 401 && o.Status != 403 {
		window.Add(b.LoginFail[:], ms, m, 1)
		window.Add(b.LoginFail1m[:], ts, tsl, 1)
	}
	if o.Sig != 0 {
		window.Or(b.Sig[:], ms, m, o.Sig)
		if o.SigSev >= 2 {
			// Only attack markers count: a site's own admins load its
			// /wp-admin/ pages, which are low-severity probes elsewhere.
			window.Add(b.SigHits[:], ms, m, 1)
		}
		// The reason names the strongest signature of the last 10 min.
		if o.SigSev >= b.SigSev || t-b.SigAt >= tenMin {
			b.SigID, b.SigSev, b.SigAt = o.SigID, o.SigSev, t
		}
	}
	if f&ReqPost != 0 && f&(ReqLogin|ReqCheckout) != 0 {
		window.Add(b.Post1m[:], ts, tsl, 1)
	}
	if f&ReqAcceptLanguageLogged != 0 {
		window.Add(b.ALLogged[:], ms, m, 1)
		if f&ReqAcceptLanguageMissing != 0 {
			window.Add(b.ALMissing[:], ms, m, 1)
		}
	}
	if t == head {
		b.UAHash = uint32(o.UAHash) | 1 // never 0: 0 means "no event yet"
		b.UA = o.UA
		b.CDNBot = o.CDNBot
	}
}

func (b *Behaviour) slide(prev, t int64) {
	s0, s1 := window.Slot(prev, sec), window.Slot(t, sec)
	if s0 == s1 {
		return
	}
	b.Paths.Slide(window.Slot(prev, half), window.Slot(t, half))
	window.Slide(b.Sec[:], s0, s1)
	t0, t1 := window.Slot(prev, tenSec), window.Slot(t, tenSec)
	window.Slide(b.Ten[:], t0, t1)
	window.Slide(b.LoginFail1m[:], t0, t1)
	window.Slide(b.Post1m[:], t0, t1)
	m0, m1 := window.Slot(prev, minute), window.Slot(t, minute)
	if m0 != m1 {
		for _, r := range [][]uint16{b.Req[:], b.Asset[:], b.S404[:], b.RefMissing[:], b.ALLogged[:], b.ALMissing[:], b.Bg[:]} {
			window.Slide(r, m0, m1)
		}
		for _, r := range [][]uint8{b.Enum[:], b.LoginFail[:], b.S429[:], b.Sensitive[:], b.Malformed[:], b.SigHits[:]} {
			window.Slide(r, m0, m1)
		}
		window.Slide(b.Sig[:], m0, m1)
		window.Slide(b.Hour[:], window.Slot(prev, tenMin), window.Slot(t, tenMin))
	}
}

// Minimum sample sizes below which a share or a regularity says nothing.
const (
	minPagesForShare     = 5
	minPagesForDiversity = 20
	minReqFor404Share    = 10
	minReqForIAT         = 8
	minALForShare        = 10
	minReqForBackground  = 10
)

// Pages10m and Assets10m are the page and asset requests in the 10 min window at now.
func (b *Behaviour) Pages10m(now int64) (pages, assets uint64) {
	ms, m := window.Slot(b.Last, minute), window.Slot(now, minute)
	req := window.Sum(b.Req[:], ms, m)
	assets = window.Sum(b.Asset[:], ms, m)
	bg := window.Sum(b.Bg[:], ms, m)
	return req - min(assets+bg, req), assets
}

// Compute sets the behaviour features at time now (>= b.Last).
func (b *Behaviour) Compute(now int64, v *Vector) {
	hs, s := window.Slot(b.Last, sec), window.Slot(now, sec)
	ts, tsl := window.Slot(b.Last, tenSec), window.Slot(now, tenSec)
	ms, m := window.Slot(b.Last, minute), window.Slot(now, minute)
	hh, h := window.Slot(b.Last, tenMin), window.Slot(now, tenMin)

	v.Set(Rate10s, float64(window.Sum(b.Sec[:], hs, s))/10)
	v.Set(Burst10s, float64(window.Max(b.Sec[:], hs, s)))
	n1m := window.Sum(b.Ten[:], ts, tsl)
	v.Set(Rate1m, float64(n1m)/60)
	req := window.Sum(b.Req[:], ms, m)
	v.Set(Rate10m, float64(req)/600)
	v.Set(Rate1h, float64(window.Sum(b.Hour[:], hh, h))/3600)
	// Over navigations: a client whose last minute was only a page's
	// background requests has no timing regularity to speak of.
	if n1m >= minReqForIAT && b.IATN >= minReqForIAT && b.IATMean > 0 && now-b.LastNav < minute {
		v.Set(IATCV1m, round3(math.Sqrt(float64(max(b.IATVar, 0)))/float64(b.IATMean)))
	}
	assets := window.Sum(b.Asset[:], ms, m)
	bg := window.Sum(b.Bg[:], ms, m)
	pages := req - min(assets+bg, req) // navigations: neither assets nor background requests
	v.Set(Pages10m, float64(pages))
	if req >= minReqForBackground {
		v.Set(BackgroundShare10m, round3(float64(bg)/float64(req)))
	}
	if pages >= minPagesForShare {
		// Pages count as loaded with assets up to the number of assets: per
		// client this is "pages without assets", and it stays right for an IP
		// whose many people interleave their pages and assets.
		with := min(assets, pages)
		v.Set(NoAssetShare10m, round3(1-float64(with)/float64(pages)))
		v.Set(RefererMissingShare10m, round3(float64(window.Sum(b.RefMissing[:], ms, m))/float64(pages)))
	}
	if pages >= minPagesForDiversity {
		d := b.Paths.Estimate(window.Slot(b.Last, half), window.Slot(now, half))
		v.Set(PathDiversity10m, round3(min(d/float64(pages), 1)))
	}
	v.Set(Enum10m, float64(window.Sum(b.Enum[:], ms, m)))
	if req >= minReqFor404Share {
		v.Set(Status404Share10m, round3(float64(window.Sum(b.S404[:], ms, m))/float64(req)))
	}
	v.Set(LoginFailures1m, float64(window.Sum(b.LoginFail1m[:], ts, tsl)))
	v.Set(LoginFailures10m, float64(window.Sum(b.LoginFail[:], ms, m)))
	v.Set(Status429_10m, float64(window.Sum(b.S429[:], ms, m)))
	v.Set(SensitiveHits10m, float64(window.Sum(b.Sensitive[:], ms, m)))
	if n := window.Sum(b.Malformed[:], ms, m); n > 0 {
		v.Set(MalformedRequest, float64(n))
	}
	if n := window.Sum(b.SigHits[:], ms, m); n > 0 {
		v.Set(SigHits10m, float64(n))
	}
	if seen := window.OrAll(b.Sig[:], ms, m); seen != 0 {
		for c := range NumSigCategories {
			if sev := (seen >> (3 * c)) & 7; sev != 0 {
				v.Set(SigTraversal+ID(c), float64(bits.Len64(sev))) // the highest severity bit set
			}
		}
	}
	v.Set(PostSensitive1m, float64(window.Sum(b.Post1m[:], ts, tsl)))
	if al := window.Sum(b.ALLogged[:], ms, m); al >= minALForShare {
		v.Set(AcceptLanguageMissingShare10m, round3(float64(window.Sum(b.ALMissing[:], ms, m))/float64(al)))
	}
	v.Set(UATool, flag(b.UA&UAFlagTool))
	v.Set(UAHeadless, flag(b.UA&UAFlagHeadless))
	v.Set(UAEmpty, flag(b.UA&UAFlagEmpty))
	v.Set(UAMalformed, flag(b.UA&UAFlagMalformed))
	v.Set(UACrawlerClaimed, flag(b.UA&UAFlagCrawler))
	if b.CDNBot != 0 {
		v.Set(CDNBotScore, float64(b.CDNBot))
	}
}

// Alike reports whether this subject looks like one member of a proxy pool:
// page requests and not a single static asset in 10 min, or an automation UA.
// A network with many such IPs is being scraped through rented addresses.
func (b *Behaviour) Alike(now int64) bool {
	if b.UA&(UAFlagTool|UAFlagHeadless) != 0 {
		return true
	}
	pages, assets := b.Pages10m(now)
	return pages >= 2 && assets == 0
}

// IPExtra is the state an ip: subject has beyond its Behaviour.
type IPExtra struct {
	UAs      window.Distinct64 // distinct user agents, 2 x 5 min
	Sessions window.Distinct64 // distinct sessions, 2 x 5 min
}

// Update adds one request; prev is the ip's Behaviour.Last before this request.
func (x *IPExtra) Update(o *Obs, prev int64) {
	p, s := window.Slot(prev, half), window.Slot(o.T, half)
	x.UAs.Add(o.UAHash, p, s)
	x.Sessions.Add(o.Session, p, s)
}

// Compute sets ua_count_10m and ip_sessions_10m; last is the ip's Behaviour.Last.
func (x *IPExtra) Compute(last, now int64, v *Vector) {
	p, s := window.Slot(last, half), window.Slot(now, half)
	v.Set(UACount10m, x.UAs.Estimate(p, s))
	v.Set(IPSessions10m, x.Sessions.Estimate(p, s))
}

// Net is the state of a net: subject (an IPv4 /24 or IPv6 /64).
type Net struct {
	Last  int64
	Req   [10]uint16         // requests per minute, 10 min
	IPs   window.Distinct128 // distinct client IPs, 2 x 5 min
	Alike window.Distinct128 // distinct IPs that look alike (Behaviour.Alike)
	// Requests per minute whose AS number is known, and those of them from
	// a hosting or cloud network, 10 min.
	ASNKnown, Hosting [10]uint16
}

// minNetReqForHosting is the requests with a known AS number that
// net_hosting_share_10m needs.
const minNetReqForHosting = 5

// Reset makes n fresh (see Behaviour.Reset).
func (n *Net) Reset() { *n = Net{} }

// Update adds one request of an IP of the network, alike as the IP's
// Behaviour.Alike after the request.
func (n *Net) Update(o *Obs, alike bool) {
	prev := n.Last
	if o.T > prev {
		from, to := window.Slot(prev, minute), window.Slot(o.T, minute)
		window.Slide(n.Req[:], from, to)
		window.Slide(n.ASNKnown[:], from, to)
		window.Slide(n.Hosting[:], from, to)
		n.Last = o.T
	}
	head, m := window.Slot(n.Last, minute), window.Slot(o.T, minute)
	window.Add(n.Req[:], head, m, 1)
	if o.ASN != 0 {
		window.Add(n.ASNKnown[:], head, m, 1)
		if o.Hosting {
			window.Add(n.Hosting[:], head, m, 1)
		}
	}
	p, s := window.Slot(prev, half), window.Slot(o.T, half)
	n.IPs.Add(o.IP, p, s)
	if alike {
		n.Alike.Add(o.IP, p, s)
	} else {
		n.Alike.Slide(p, s)
	}
}

// Compute sets the net features at now (>= n.Last).
func (n *Net) Compute(now int64, v *Vector) {
	v.Set(Rate10m, float64(window.Sum(n.Req[:], window.Slot(n.Last, minute), window.Slot(now, minute)))/600)
	p, s := window.Slot(n.Last, half), window.Slot(now, half)
	v.Set(NetIPs10m, n.IPs.Estimate(p, s))
	v.Set(NetAlikeIPs10m, n.Alike.Estimate(p, s))
	ms, m := window.Slot(n.Last, minute), window.Slot(now, minute)
	if known := window.Sum(n.ASNKnown[:], ms, m); known >= minNetReqForHosting {
		v.Set(NetHostingShare10m, round3(float64(window.Sum(n.Hosting[:], ms, m))/float64(known)))
	}
}

func flag[T ~uint8](f T) float64 {
	if f != 0 {
		return 1
	}
	return 0
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// SigRecent returns the strongest signature (its IDHash) matched at most
// 10 min before now, or 0.
func (b *Behaviour) SigRecent(now int64) uint32 {
	if b.SigID == 0 || now-b.SigAt >= tenMin {
		return 0
	}
	return b.SigID
}

// Background requests. A page script's beacons, polls and live-search
// calls are not navigations: counted as pages they make a person reading
// one page for ten minutes look like a regular, asset-less script. A
// request is background when the browser says so (Sec-Fetch-Mode cors,
// no-cors or same-origin with an empty destination, where logged), when the
// operator lists its path (background_paths), or when it repeats the client's most frequent
// non-asset path (at least bgMinVotes votes ahead in a majority vote) from a
// client that has loaded static assets (at any time in its state's life:
// a person may read one page for an hour), i.e. runs pages in a browser. A script
// hitting one endpoint without ever loading a page has no assets, so its
// requests stay navigations and keep their timing and asset features.
const bgMinVotes = 3

// background classifies o (before it is counted) and updates the vote.
func (b *Behaviour) background(o *Obs) bool {
	if o.Flags&ReqBackground != 0 {
		return true
	}
	if o.Flags&(ReqAsset|ReqNavigate) != 0 {
		return false
	}
	ph := uint32(o.PathHash) | 1
	repeat := ph == b.BgPath
	switch {
	case repeat:
		b.BgVotes = min(b.BgVotes+1, 255)
	case b.BgVotes == 0:
		b.BgPath, b.BgVotes = ph, 1
	default:
		b.BgVotes--
	}
	return repeat && b.BgVotes >= bgMinVotes && b.Browser
}
