package features

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Where the site's traffic comes from: the counts behind country_rarity and
// asn_rarity, and the hosting-network list behind net_hosting_share_10m.

//go:embed data/hosting-asns.txt
var shippedHostingASNs []byte

// ASNSet is a set of AS numbers.
type ASNSet map[uint32]struct{}

// Has reports whether asn is in the set (false for 0, the unknown ASN).
func (s ASNSet) Has(asn uint32) bool {
	_, ok := s[asn]
	return ok && asn != 0
}

// ShippedHostingASNs is the hosting and cloud networks Bulwark ships
// (data/hosting-asns.txt, with its source).
func ShippedHostingASNs() ASNSet {
	s, err := ParseASNList(shippedHostingASNs)
	if err != nil {
		panic("features: shipped hosting-asns.txt: " + err.Error()) // tested
	}
	return s
}

// LoadASNList reads a file in the format of data/hosting-asns.txt.
func LoadASNList(path string) (ASNSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseASNList(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseASNList reads one AS number per line ("16509", "AS16509"); "#"
// starts a comment, blank lines are skipped.
func ParseASNList(data []byte) (ASNSet, error) {
	s := ASNSet{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		num := strings.TrimPrefix(strings.ToUpper(line), "AS")
		v, err := strconv.ParseUint(num, 10, 32)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("line %d: %q is not an AS number", n, line)
		}
		s[uint32(v)] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// CountryCode packs an ISO 3166 alpha-2 code ("DE", "de") into 1..676, or
// 0 when s is not two letters.
func CountryCode(s string) uint16 {
	if len(s) != 2 {
		return 0
	}
	a, b := s[0]|0x20, s[1]|0x20
	if a < 'a' || a > 'z' || b < 'a' || b > 'z' {
		return 0
	}
	return uint16(a-'a')*26 + uint16(b-'a') + 1
}

// Site counts the site's recent requests by country and by AS number, in
// fixed memory: an array for the 676 possible country codes and a
// count-min sketch for AS numbers (an overestimate, never an under-: a
// colliding common network can only make a rare one look less rare). The
// counts halve every siteHalfLife of event time, so "rare" means rare in
// the last day or so, and a site's new market stops being rare.
//
// The state tags name the fields in the aggregator's state records.
type Site struct {
	Period    int64                                   `state:"period"` // event time / siteHalfLife of the newest halving
	Total     uint32                                  `state:"total"`
	Countries [676]uint32                             `state:"countries"` // by CountryCode - 1
	ASNs      [siteSketchRows][siteSketchWidth]uint32 `state:"asns"`
}

const (
	siteHalfLife    = 6 * 60 * minute
	siteSketchRows  = 2
	siteSketchWidth = 1024
	// minSiteRequests is how many requests with a country or AS number the
	// site needs before rarity means anything.
	minSiteRequests = 1000
)

// Add counts one request at event time t (country from CountryCode, 0 and
// asn 0 when unknown).
func (s *Site) Add(t int64, country uint16, asn uint32) {
	if p := t / siteHalfLife; p > s.Period {
		s.halve(p - s.Period)
		s.Period = p
	}
	s.Total = satAdd(s.Total)
	if country != 0 && int(country) <= len(s.Countries) {
		s.Countries[country-1] = satAdd(s.Countries[country-1])
	}
	if asn != 0 {
		for r := range siteSketchRows {
			i := sketchIndex(r, asn)
			s.ASNs[r][i] = satAdd(s.ASNs[r][i])
		}
	}
}

func (s *Site) halve(times int64) {
	sh := uint(min(times, 32))
	half := func(v uint32) uint32 { return uint32(uint64(v) >> sh) }
	s.Total = half(s.Total)
	for i := range s.Countries {
		s.Countries[i] = half(s.Countries[i])
	}
	for r := range s.ASNs {
		for i := range s.ASNs[r] {
			s.ASNs[r][i] = half(s.ASNs[r][i])
		}
	}
}

// Compute sets country_rarity and asn_rarity of a subject whose newest
// request came from country and asn: -log10 of their share of the site's
// requests (1 = a tenth of the traffic, 3 = one request in a thousand).
// Absent when unknown or while the site has too few requests.
func (s *Site) Compute(country uint16, asn uint32, v *Vector) {
	if s.Total < minSiteRequests {
		return
	}
	if country != 0 && int(country) <= len(s.Countries) {
		v.Set(CountryRarity, rarity(s.Countries[country-1], s.Total))
	}
	if asn != 0 {
		n := uint32(math.MaxUint32)
		for r := range siteSketchRows {
			n = min(n, s.ASNs[r][sketchIndex(r, asn)])
		}
		v.Set(ASNRarity, rarity(n, s.Total))
	}
}

func rarity(n, total uint32) float64 {
	// At least one request: the subject's own, even if a halving took it.
	return round3(-math.Log10(float64(max(n, 1)) / float64(total)))
}

// sketchIndex hashes asn for row r (multiplicative hashing with a
// different odd constant per row).
func sketchIndex(r int, asn uint32) int {
	mult := [siteSketchRows]uint32{0x9e3779b1, 0x85ebca77}
	return int((asn * mult[r]) >> 22) // the top 10 bits: siteSketchWidth
}

func satAdd(v uint32) uint32 {
	if v == math.MaxUint32 {
		return v
	}
	return v + 1
}
