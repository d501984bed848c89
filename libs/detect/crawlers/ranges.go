// Package crawlers holds the bot directory shipped with Bulwark
// (data/bots.yaml: search engines, SEO tools, AI crawlers, link previews,
// monitors ...) and verifies the claims clients make with their
// User-Agent. A client saying "Googlebot" is Googlebot if its address is in
// the ranges Google publishes, or if forward-confirmed reverse DNS says so
// (PTR under googlebot.com, and that name resolves back to the address):
// verified. A check that could have succeeded and failed makes it an
// impostor. When no check can tell (a bot that publishes nothing, reverse
// DNS unavailable in replay or failing live, a range list of another
// date), the claim is unverifiable: never an impostor.
package crawlers

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/gaissmai/bart"
)

// The copies of the published range files shipped with Bulwark. They are
// what a crawler with `ranges: builtin` starts with; the live files are
// fetched from each crawler's ranges_url at the configured refresh interval:
//
//	googlebot.json  https://developers.google.com/static/search/apis/ipranges/googlebot.json
//	bingbot.json    https://www.bing.com/toolbox/bingbot.json
//	applebot.json   https://search.developer.apple.com/applebot.json
//
//go:embed data/*.json
var builtin embed.FS

// ErrBadRanges is wrapped by errors about a range file that cannot be used.
var ErrBadRanges = errors.New("bad crawler range file")

// ErrNoBuiltin is returned for a crawler name without shipped ranges.
var ErrNoBuiltin = errors.New("no builtin ranges")

// Builtin returns the shipped range file of the named crawler
// ("googlebot", "bingbot", "applebot").
func Builtin(name string) ([]byte, error) {
	b, err := builtin.ReadFile("data/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("%w for crawler %q (shipped: googlebot, bingbot, applebot)", ErrNoBuiltin, name)
	}
	return b, nil
}

// rangeFile is the format Google, Bing, Apple and OpenAI publish:
//
//	{"creationTime":"...","prefixes":[{"ipv4Prefix":"66.249.64.0/27"},{"ipv6Prefix":"2001:4860:4801:10::/64"}]}
type rangeFile struct {
	CreationTime string `json:"creationTime"`
	Prefixes     []struct {
		IPv4 string `json:"ipv4Prefix"`
		IPv6 string `json:"ipv6Prefix"`
	} `json:"prefixes"`
}

// ParseRanges parses a published range file. A file with no prefix at all
// is an error: replacing good ranges with nothing would turn every real
// crawler into a "fake" one.
func ParseRanges(data []byte) ([]netip.Prefix, error) {
	p, _, err := ParseRangesDated(data)
	return p, err
}

// creationLayouts are the forms of creationTime seen in the operators'
// files (Google writes microseconds, Bing and Apple hundredths, OpenAI an
// offset).
var creationLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"}

// ParseRangesDated is ParseRanges that also returns the file's creationTime
// (zero when absent or unreadable: the file is then taken as valid at any
// date).
func ParseRangesDated(data []byte) ([]netip.Prefix, time.Time, error) {
	var f rangeFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %v", ErrBadRanges, err)
	}
	var created time.Time
	for _, l := range creationLayouts {
		if t, err := time.Parse(l, f.CreationTime); err == nil {
			created = t.UTC()
			break
		}
	}
	out, err := f.prefixes()
	return out, created, err
}

func (f *rangeFile) prefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(f.Prefixes))
	for i, p := range f.Prefixes {
		s, want4 := p.IPv4, true
		if s == "" {
			s, want4 = p.IPv6, false
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: prefixes[%d]: %v", ErrBadRanges, i, err)
		}
		if pfx.Addr().Is4() != want4 {
			return nil, fmt.Errorf("%w: prefixes[%d]: %s is in the wrong family field", ErrBadRanges, i, s)
		}
		out = append(out, pfx.Masked())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no prefixes", ErrBadRanges)
	}
	return out, nil
}

// table is an immutable prefix set; a refresh builds a new one and swaps it.
// A published list says who the operator's crawlers are at the time it was
// made: from (its creationTime, or the pinned date) until fetched (when
// Bulwark last read it from the operator, or from for a shipped copy). It
// is consulted for events within the verifier's RangesValid of that span;
// zero from means "any date".
type table struct {
	lite          *bart.Lite
	size          int
	from, fetched time.Time
}

func newTable(prefixes []netip.Prefix, from, fetched time.Time) *table {
	t := &table{lite: new(bart.Lite), size: len(prefixes), from: from, fetched: fetched}
	if t.fetched.Before(from) {
		t.fetched = from
	}
	for _, p := range prefixes {
		t.lite.Insert(p)
	}
	return t
}

func (t *table) contains(a netip.Addr) bool { return t != nil && t.lite.Lookup(a) }

// covers reports whether the list speaks for an event at at (zero at: the
// date is unknown, so it does).
func (t *table) covers(at time.Time, valid time.Duration) bool {
	if t == nil {
		return false
	}
	if at.IsZero() || t.from.IsZero() || valid <= 0 {
		return true
	}
	return !at.Before(t.from.Add(-valid)) && !at.After(t.fetched.Add(valid))
}
