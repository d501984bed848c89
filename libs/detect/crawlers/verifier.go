package crawlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
)

// Crawler is one crawler that can be verified.
type Crawler struct {
	// Name labels metrics and reasons ("googlebot").
	Name string
	// Operator and Category come from the bot directory ("Google", "search").
	Operator, Category string
	// RobotsToken is the product token of its robots.txt group ("Googlebot").
	RobotsToken string
	// UserAgent matches the User-Agent of a client claiming to be this crawler.
	UserAgent *regexp.Regexp
	// Ranges is where the published ranges come from at start: "builtin"
	// (the copy shipped in this package), "builtin:OTHER" (another
	// crawler's copy), a file path, or "" for none.
	Ranges string
	// RangesURL, if set, is fetched at every refresh (a file path works too).
	RangesURL string
	// RangesDate, if set, pins the date the ranges at start are valid for
	// (instead of the file's creationTime): a saved historical list.
	RangesDate time.Time
	// RDNSSuffixes are the domains a forward-confirmed PTR must end in
	// ("googlebot.com"). Empty: reverse DNS cannot verify this crawler.
	RDNSSuffixes []string
}

// Config says how crawlers are verified.
type Config struct {
	Crawlers []Crawler
	// RDNS enables live forward-confirmed reverse DNS for addresses outside
	// the ranges. Off (replay), only Answers can verify by reverse DNS.
	RDNS bool
	// Answers are reverse-DNS outcomes recorded earlier (a cache file
	// exported by a live decider, `--rdns-cache`); they are consulted before
	// any lookup and never expire.
	Answers *Answers
	// RangesValid is how far from a range list's date (creationTime, or
	// when it was fetched) an event may be for the list to be consulted: an
	// address outside this year's list says nothing about a crawler ten
	// years ago. 0: lists are valid at any date.
	RangesValid time.Duration
	// RDNSTimeout bounds one verification (PTR plus forward lookups).
	RDNSTimeout time.Duration
	// CacheTTL and CacheSize bound the cache of reverse-DNS outcomes.
	CacheTTL  time.Duration
	CacheSize int
	// Refresh is how often Run re-reads every crawler's RangesURL (0: never).
	Refresh time.Duration
	// MaxLookups bounds the reverse-DNS lookups running at once in CheckAsync;
	// beyond it a claim stays Unverifiable until a slot frees.
	MaxLookups int
}

// Resolver is the part of *net.Resolver the verifier needs; tests pass a fake.
type Resolver interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Status is the outcome of checking a client's crawler claim.
type Status uint8

const (
	// NotClaimed: the User-Agent claims no known crawler.
	NotClaimed Status = iota
	// Verified: the address is in the crawler's ranges or passed forward-confirmed reverse DNS.
	Verified
	// Impostor: a check that could have succeeded failed: the address is
	// outside ranges that speak for the event's date (and reverse DNS, if
	// the crawler has it, was not asked), or reverse DNS answered no.
	Impostor
	// Unverifiable: no check could tell: the bot is declared only, reverse
	// DNS is not available (replay without a cache) or failed (timeouts),
	// or its ranges are of another date. Treated as any client.
	Unverifiable
)

// The names before verification states had three outcomes.
const (
	Fake       = Impostor
	Unverified = Unverifiable
)

func (s Status) String() string {
	switch s {
	case Verified:
		return "verified"
	case Impostor:
		return "impostor"
	case Unverifiable:
		return "unverifiable"
	}
	return "not_claimed"
}

// Result of a check.
type Result struct {
	Crawler     string // name of the claimed crawler, "" when not claimed
	Category    string
	RobotsToken string
	Status      Status
	// By says how the status was reached: ranges, rdns, rdns_cache
	// (Verified or Impostor); declared, no_rdns, ranges_date, dns_error,
	// rdns_pending, bad_address (Unverifiable).
	By string
}

// Verifier checks crawler claims. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	res     Resolver
	log     *slog.Logger
	m       *Metrics
	http    *http.Client
	ranges  []atomic.Pointer[table] // by index in cfg.Crawlers
	cache   *expirable.LRU[string, Answer]
	claims  *lru.Cache[string, int] // User-Agent -> index of the claimed crawler, or -1
	lits    [][]string              // per crawler, the literals a match contains (see prefilter.go)
	sem     chan struct{}
	mu      sync.Mutex
	pending map[string]struct{}
}

// New builds a verifier and loads each crawler's initial ranges. res nil
// means the system resolver; m nil means no metrics.
func New(cfg Config, res Resolver, m *Metrics, log *slog.Logger) (*Verifier, error) {
	if res == nil {
		res = net.DefaultResolver
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.RDNSTimeout <= 0 {
		cfg.RDNSTimeout = 2 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 6 * time.Hour
	}
	if cfg.MaxLookups <= 0 {
		cfg.MaxLookups = 16
	}
	v := &Verifier{
		cfg: cfg, res: res, log: log.With("component", "crawlers"), m: m,
		http:    &http.Client{Timeout: 30 * time.Second},
		ranges:  make([]atomic.Pointer[table], len(cfg.Crawlers)),
		cache:   expirable.NewLRU[string, Answer](cfg.CacheSize, nil, cfg.CacheTTL),
		sem:     make(chan struct{}, cfg.MaxLookups),
		pending: map[string]struct{}{},
	}
	// Sites see a few thousand distinct User-Agents a day, and matching
	// every crawler's pattern on every request is the decider's main cost.
	v.claims, _ = lru.New[string, int](4096)
	v.lits = make([][]string, len(cfg.Crawlers))
	for i, c := range cfg.Crawlers {
		if c.UserAgent == nil {
			return nil, fmt.Errorf("crawler %q: no user_agent pattern", c.Name)
		}
		v.lits[i] = requiredLiterals(c.UserAgent.String())
		if c.Ranges == "" {
			continue
		}
		data, err := readRanges(c.Name, c.Ranges)
		if err != nil {
			return nil, fmt.Errorf("crawler %s: %w", c.Name, err)
		}
		p, created, err := ParseRangesDated(data)
		if err != nil {
			return nil, fmt.Errorf("crawler %s ranges %s: %w", c.Name, c.Ranges, err)
		}
		if !c.RangesDate.IsZero() {
			created = c.RangesDate
		}
		v.ranges[i].Store(newTable(p, created, created))
	}
	return v, nil
}

func readRanges(name, src string) ([]byte, error) {
	if src == "builtin" {
		return Builtin(name)
	}
	if other, ok := strings.CutPrefix(src, "builtin:"); ok {
		return Builtin(other)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return nil, fmt.Errorf("read ranges: %w", err)
	}
	return b, nil
}

// Crawlers returns the crawlers the verifier knows.
func (v *Verifier) Crawlers() []Crawler { return v.cfg.Crawlers }

// Claimed returns the index of the crawler ua claims to be, or -1.
func (v *Verifier) Claimed(ua string) int {
	if ua == "" {
		return -1
	}
	if i, ok := v.claims.Get(ua); ok {
		return i
	}
	i := -1
	low := strings.ToLower(ua)
	for j, c := range v.cfg.Crawlers {
		if mayMatch(low, v.lits[j]) && c.UserAgent.MatchString(ua) {
			i = j
			break
		}
	}
	v.claims.Add(ua, i)
	return i
}

// Check verifies the claim of a client with User-Agent ua at addr, waiting
// for reverse DNS if needed (bounded by RDNSTimeout). Range lists are used
// whatever their date.
func (v *Verifier) Check(ctx context.Context, ua string, addr netip.Addr) Result {
	return v.CheckAt(ctx, ua, addr, time.Time{})
}

// CheckAt is Check for an event at time at: range lists whose date is more
// than RangesValid away from it are not consulted (zero at: any date).
// Replay uses it.
func (v *Verifier) CheckAt(ctx context.Context, ua string, addr netip.Addr, at time.Time) Result {
	i := v.Claimed(ua)
	if i < 0 {
		return Result{}
	}
	if st, by, done := v.fast(i, addr, at); done {
		return v.count(i, st, by)
	}
	st, by := v.lookup(ctx, i, addr)
	if st == Unverifiable {
		st, by = v.byRangesAlone(i, at, by)
	}
	return v.count(i, st, by)
}

// CheckAsync is Check without waiting: when reverse DNS is needed and its
// answer is not cached, it starts the lookup in the background and returns
// Unverifiable; a later check finds the answer in the cache. The decider's
// consumer loop uses it so that a flood of fake crawlers from many
// addresses cannot stall it on DNS.
func (v *Verifier) CheckAsync(ua string, addr netip.Addr) Result {
	return v.CheckAsyncAt(ua, addr, time.Time{})
}

// CheckAsyncAt is CheckAsync for an event at time at (see CheckAt).
func (v *Verifier) CheckAsyncAt(ua string, addr netip.Addr, at time.Time) Result {
	i := v.Claimed(ua)
	if i < 0 {
		return Result{}
	}
	if st, by, done := v.fast(i, addr, at); done {
		return v.count(i, st, by)
	}
	c := v.cfg.Crawlers[i]
	key := cacheKey(c.Name, addr)
	v.mu.Lock()
	_, running := v.pending[key]
	if !running {
		select {
		case v.sem <- struct{}{}:
			v.pending[key] = struct{}{}
			go func() {
				defer func() { <-v.sem }()
				v.lookup(context.Background(), i, addr)
				v.mu.Lock()
				delete(v.pending, key)
				v.mu.Unlock()
			}()
		default:
			v.m.lookupSkipped()
		}
	}
	v.mu.Unlock()
	return v.count(i, Unverifiable, "rdns_pending")
}

// fast answers from the ranges, the recorded answers and the cache; done
// is false when only a live reverse-DNS lookup can tell.
func (v *Verifier) fast(i int, addr netip.Addr, at time.Time) (Status, string, bool) {
	c := v.cfg.Crawlers[i]
	addr = addr.Unmap()
	if !addr.IsValid() {
		return Unverifiable, "bad_address", true
	}
	// A list of another date can still verify, never condemn: the
	// networks an operator's crawlers use stay its own for years (Google's
	// 66.249.64.0/19 crawled in 2005 as it does now), but a crawler's
	// address missing from this year's list says nothing about 2015.
	if t := v.ranges[i].Load(); t.contains(addr) {
		return Verified, "ranges", true
	}
	if len(c.RDNSSuffixes) > 0 {
		if a, ok := v.cfg.Answers.Get(addr); ok {
			return a.statusFor(c.RDNSSuffixes), "rdns_cache", true
		}
		if v.cfg.RDNS {
			if a, ok := v.cache.Get(cacheKey(c.Name, addr)); ok {
				return a.statusFor(c.RDNSSuffixes), "rdns", true
			}
			return Unverifiable, "", false
		}
	}
	st, by := v.byRangesAlone(i, at, "no_rdns")
	return st, by, true
}

// byRangesAlone judges a claim that reverse DNS cannot settle: outside
// ranges that speak for the event's date it is an impostor (the operators
// who publish ranges publish all of their crawlers' addresses); without
// such ranges nothing can be said. why is the reason when nothing can.
func (v *Verifier) byRangesAlone(i int, at time.Time, why string) (Status, string) {
	c, t := v.cfg.Crawlers[i], v.ranges[i].Load()
	switch {
	case why == "dns_error":
		// The issue is ours, not the client's: never an impostor for it.
		return Unverifiable, why
	case t.covers(at, v.cfg.RangesValid):
		return Impostor, "ranges"
	case t != nil:
		return Unverifiable, "ranges_date"
	case len(c.RDNSSuffixes) == 0 && c.RangesURL == "":
		return Unverifiable, "declared"
	case len(c.RDNSSuffixes) == 0:
		return Unverifiable, "no_ranges" // published, but not fetched yet
	}
	return Unverifiable, why
}

func cacheKey(name string, addr netip.Addr) string { return name + "|" + addr.String() }

// lookup runs forward-confirmed reverse DNS and caches a definite answer.
// A DNS failure (timeout, SERVFAIL) is not cached and reads as Unverifiable:
// a resolver outage must not turn the real Googlebot into a fake one.
func (v *Verifier) lookup(ctx context.Context, i int, addr netip.Addr) (Status, string) {
	c := v.cfg.Crawlers[i]
	addr = addr.Unmap()
	ctx, cancel := context.WithTimeout(ctx, v.cfg.RDNSTimeout)
	defer cancel()
	a, err := v.fcrdns(ctx, c, addr)
	if err != nil {
		v.m.lookup("error")
		v.log.Debug("reverse DNS failed", "crawler", c.Name, "addr", addr, "err", err)
		return Unverifiable, "dns_error"
	}
	st := a.statusFor(c.RDNSSuffixes)
	v.m.lookup(st.String())
	v.cache.Add(cacheKey(c.Name, addr), a)
	return st, "rdns"
}

// fcrdns asks for the PTR names of addr and forward-resolves those under
// the crawler's suffixes; the answer lists the names that lead back.
func (v *Verifier) fcrdns(ctx context.Context, c Crawler, addr netip.Addr) (Answer, error) {
	a := Answer{Addr: addr, At: time.Now().UTC()}
	names, err := v.res.LookupAddr(ctx, addr.String())
	if err != nil {
		if isNotFound(err) {
			return a, nil
		}
		return a, fmt.Errorf("PTR %s: %w", addr, err)
	}
	var lastErr error
	for _, n := range names {
		host := strings.ToLower(strings.TrimSuffix(n, "."))
		a.PTR = append(a.PTR, host)
		if !hasSuffix(host, c.RDNSSuffixes) {
			continue
		}
		addrs, err := v.res.LookupNetIP(ctx, "ip", host)
		if err != nil {
			if !isNotFound(err) {
				lastErr = fmt.Errorf("resolve %s: %w", host, err)
				continue
			}
			a.Refuted = append(a.Refuted, host)
			continue
		}
		if slices.ContainsFunc(addrs, func(x netip.Addr) bool { return x.Unmap() == addr }) {
			a.Confirmed = append(a.Confirmed, host)
		} else {
			a.Refuted = append(a.Refuted, host)
		}
	}
	if len(a.Confirmed) == 0 && lastErr != nil {
		return a, lastErr
	}
	return a, nil
}

func hasSuffix(host string, suffixes []string) bool {
	for _, s := range suffixes {
		s = strings.ToLower(strings.TrimPrefix(strings.TrimSuffix(s, "."), "."))
		if host == s || strings.HasSuffix(host, "."+s) {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

func (v *Verifier) count(i int, st Status, by string) Result {
	c := v.cfg.Crawlers[i]
	v.m.check(c.Name, st)
	return Result{Crawler: c.Name, Category: c.Category, RobotsToken: c.RobotsToken, Status: st, By: by}
}

// Adopt copies the reverse-DNS answers old has cached for crawlers this
// verifier knows by the same name, so that a rule reload does not ask DNS
// about every crawler again.
func (v *Verifier) Adopt(old *Verifier) {
	if old == nil {
		return
	}
	for _, k := range old.cache.Keys() {
		if a, ok := old.cache.Peek(k); ok {
			v.cache.Add(k, a)
		}
	}
}

// Answers returns the reverse-DNS answers the verifier holds (its live
// cache), for `bulwark bots export-cache`.
func (v *Verifier) Answers() []Answer {
	by := map[netip.Addr]Answer{}
	for _, a := range v.cache.Values() {
		if old, ok := by[a.Addr]; ok {
			a = old.merge(a)
		}
		by[a.Addr] = a
	}
	out := make([]Answer, 0, len(by))
	for _, a := range by {
		out = append(out, a)
	}
	return out
}

// Refresh re-reads the ranges of every crawler with a RangesURL (an
// http(s) URL or a file path). A source that fails keeps its current ranges;
// the errors are returned joined.
func (v *Verifier) Refresh(ctx context.Context) error {
	var errs []error
	for i, c := range v.cfg.Crawlers {
		if c.RangesURL == "" {
			continue
		}
		p, created, err := v.fetch(ctx, c.RangesURL)
		if err != nil {
			v.m.refresh(c.Name, false)
			errs = append(errs, fmt.Errorf("refresh %s ranges from %s: %w", c.Name, c.RangesURL, err))
			continue
		}
		v.m.refresh(c.Name, true)
		v.ranges[i].Store(newTable(p, created, time.Now().UTC()))
		v.log.Info("crawler ranges refreshed", "crawler", c.Name, "prefixes", len(p), "from", c.RangesURL)
	}
	return errors.Join(errs...)
}

func (v *Verifier) fetch(ctx context.Context, src string) ([]netip.Prefix, time.Time, error) {
	data, err := fetchBytes(ctx, v.http, src)
	if err != nil {
		return nil, time.Time{}, err
	}
	return ParseRangesDated(data)
}

// fetchBytes reads an http(s) URL (200 only, at most 16 MiB) or a file.
func fetchBytes(ctx context.Context, hc *http.Client, src string) ([]byte, error) {
	var data []byte
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("HTTP %s", resp.Status)
		}
		if data, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20)); err != nil {
			return nil, err
		}
	} else {
		var err error
		if data, err = os.ReadFile(src); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// Run refreshes the ranges every Refresh interval until ctx is done. The
// first refresh is one interval after start: the shipped or configured
// ranges serve until then, so a machine without internet starts quietly.
func (v *Verifier) Run(ctx context.Context) error {
	if v.cfg.Refresh <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(v.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := v.Refresh(ctx); err != nil && ctx.Err() == nil {
				v.log.Warn("crawler ranges refresh failed; keeping the current ranges", "err", err)
			}
		}
	}
}

// Prefixes returns how many prefixes the named crawler's ranges hold.
func (v *Verifier) Prefixes(name string) int {
	for i, c := range v.cfg.Crawlers {
		if c.Name == name {
			if t := v.ranges[i].Load(); t != nil {
				return t.size
			}
		}
	}
	return 0
}
