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
	// UserAgent matches the User-Agent of a client claiming to be this crawler.
	UserAgent *regexp.Regexp
	// Ranges is where the published ranges come from at start: "builtin"
	// (the copy shipped in this package), a file path, or "" for none.
	Ranges string
	// RangesURL, if set, is fetched at every refresh (a file path works too).
	RangesURL string
	// RDNSSuffixes are the domains a forward-confirmed PTR must end in
	// ("googlebot.com"). Empty: reverse DNS cannot verify this crawler.
	RDNSSuffixes []string
}

// Config says how crawlers are verified.
type Config struct {
	Crawlers []Crawler
	// RDNS enables forward-confirmed reverse DNS for addresses outside the ranges.
	RDNS bool
	// RDNSTimeout bounds one verification (PTR plus forward lookups).
	RDNSTimeout time.Duration
	// CacheTTL and CacheSize bound the cache of reverse-DNS outcomes.
	CacheTTL  time.Duration
	CacheSize int
	// Refresh is how often Run re-reads every crawler's RangesURL (0: never).
	Refresh time.Duration
	// MaxLookups bounds the reverse-DNS lookups running at once in CheckAsync;
	// beyond it a claim stays Unverified until a slot frees.
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
	// Fake: the claim is false (outside the ranges, and reverse DNS says no or is off).
	Fake
	// Unverified: not known yet (lookup running, DNS failing): treat as any client.
	Unverified
)

func (s Status) String() string {
	switch s {
	case Verified:
		return "verified"
	case Fake:
		return "fake"
	case Unverified:
		return "unverified"
	}
	return "not_claimed"
}

// Result of a check.
type Result struct {
	Crawler string // name of the claimed crawler, "" when not claimed
	Status  Status
}

// Verifier checks crawler claims. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	res     Resolver
	log     *slog.Logger
	m       *Metrics
	http    *http.Client
	ranges  []atomic.Pointer[table] // by index in cfg.Crawlers
	cache   *expirable.LRU[string, Status]
	claims  *lru.Cache[string, int] // User-Agent -> index of the claimed crawler, or -1
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
		cache:   expirable.NewLRU[string, Status](cfg.CacheSize, nil, cfg.CacheTTL),
		sem:     make(chan struct{}, cfg.MaxLookups),
		pending: map[string]struct{}{},
	}
	// Sites see a few thousand distinct User-Agents a day, and matching
	// every crawler's pattern on every request is the decider's main cost.
	v.claims, _ = lru.New[string, int](4096)
	for i, c := range cfg.Crawlers {
		if c.UserAgent == nil {
			return nil, fmt.Errorf("crawler %q: no user_agent pattern", c.Name)
		}
		if c.Ranges == "" {
			continue
		}
		data, err := readRanges(c.Name, c.Ranges)
		if err != nil {
			return nil, fmt.Errorf("crawler %s: %w", c.Name, err)
		}
		p, err := ParseRanges(data)
		if err != nil {
			return nil, fmt.Errorf("crawler %s ranges %s: %w", c.Name, c.Ranges, err)
		}
		v.ranges[i].Store(newTable(p))
	}
	return v, nil
}

func readRanges(name, src string) ([]byte, error) {
	if src == "builtin" {
		return Builtin(name)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return nil, fmt.Errorf("read ranges: %w", err)
	}
	return b, nil
}

// Claimed returns the index of the crawler ua claims to be, or -1.
func (v *Verifier) Claimed(ua string) int {
	if ua == "" {
		return -1
	}
	if i, ok := v.claims.Get(ua); ok {
		return i
	}
	i := -1
	for j, c := range v.cfg.Crawlers {
		if c.UserAgent.MatchString(ua) {
			i = j
			break
		}
	}
	v.claims.Add(ua, i)
	return i
}

// Check verifies the claim of a client with User-Agent ua at addr, waiting
// for reverse DNS if needed (bounded by RDNSTimeout). Replay uses it.
func (v *Verifier) Check(ctx context.Context, ua string, addr netip.Addr) Result {
	i := v.Claimed(ua)
	if i < 0 {
		return Result{}
	}
	c := v.cfg.Crawlers[i]
	if st, done := v.fast(i, addr); done {
		return v.count(c.Name, st)
	}
	return v.count(c.Name, v.lookup(ctx, i, addr))
}

// CheckAsync is Check without waiting: when reverse DNS is needed and its
// answer is not cached, it starts the lookup in the background and returns
// Unverified; a later check finds the answer in the cache. The decider's
// consumer loop uses it so that a flood of fake crawlers from many
// addresses cannot stall it on DNS.
func (v *Verifier) CheckAsync(ua string, addr netip.Addr) Result {
	i := v.Claimed(ua)
	if i < 0 {
		return Result{}
	}
	c := v.cfg.Crawlers[i]
	if st, done := v.fast(i, addr); done {
		return v.count(c.Name, st)
	}
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
	return v.count(c.Name, Unverified)
}

// fast answers from the ranges and the cache; done is false when only a
// reverse-DNS lookup can tell.
func (v *Verifier) fast(i int, addr netip.Addr) (Status, bool) {
	c := v.cfg.Crawlers[i]
	addr = addr.Unmap()
	if !addr.IsValid() {
		return Fake, true
	}
	if v.ranges[i].Load().contains(addr) {
		return Verified, true
	}
	if !v.cfg.RDNS || len(c.RDNSSuffixes) == 0 {
		return Fake, true
	}
	if st, ok := v.cache.Get(cacheKey(c.Name, addr)); ok {
		return st, true
	}
	return Unverified, false
}

func cacheKey(name string, addr netip.Addr) string { return name + "|" + addr.String() }

// lookup runs forward-confirmed reverse DNS and caches a definite answer.
// A DNS failure (timeout, SERVFAIL) is not cached and reads as Unverified:
// a resolver outage must not turn the real Googlebot into a fake one.
func (v *Verifier) lookup(ctx context.Context, i int, addr netip.Addr) Status {
	c := v.cfg.Crawlers[i]
	addr = addr.Unmap()
	ctx, cancel := context.WithTimeout(ctx, v.cfg.RDNSTimeout)
	defer cancel()
	st, err := v.fcrdns(ctx, c, addr)
	if err != nil {
		v.m.lookup("error")
		v.log.Debug("reverse DNS failed", "crawler", c.Name, "addr", addr, "err", err)
		return Unverified
	}
	v.m.lookup(st.String())
	v.cache.Add(cacheKey(c.Name, addr), st)
	return st
}

func (v *Verifier) fcrdns(ctx context.Context, c Crawler, addr netip.Addr) (Status, error) {
	names, err := v.res.LookupAddr(ctx, addr.String())
	if err != nil {
		if isNotFound(err) {
			return Fake, nil
		}
		return Unverified, fmt.Errorf("PTR %s: %w", addr, err)
	}
	var lastErr error
	for _, n := range names {
		host := strings.ToLower(strings.TrimSuffix(n, "."))
		if !hasSuffix(host, c.RDNSSuffixes) {
			continue
		}
		addrs, err := v.res.LookupNetIP(ctx, "ip", host)
		if err != nil {
			if !isNotFound(err) {
				lastErr = fmt.Errorf("resolve %s: %w", host, err)
			}
			continue
		}
		for _, a := range addrs {
			if a.Unmap() == addr {
				return Verified, nil
			}
		}
	}
	if lastErr != nil {
		return Unverified, lastErr
	}
	return Fake, nil
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

func (v *Verifier) count(name string, st Status) Result {
	v.m.check(name, st)
	return Result{Crawler: name, Status: st}
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
		p, err := v.fetch(ctx, c.RangesURL)
		if err != nil {
			v.m.refresh(c.Name, false)
			errs = append(errs, fmt.Errorf("refresh %s ranges from %s: %w", c.Name, c.RangesURL, err))
			continue
		}
		v.m.refresh(c.Name, true)
		v.ranges[i].Store(newTable(p))
		v.log.Info("crawler ranges refreshed", "crawler", c.Name, "prefixes", len(p), "from", c.RangesURL)
	}
	return errors.Join(errs...)
}

func (v *Verifier) fetch(ctx context.Context, src string) ([]netip.Prefix, error) {
	var data []byte
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := v.http.Do(req)
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
	return ParseRanges(data)
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
