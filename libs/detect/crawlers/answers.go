package crawlers

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"
)

// Answer is the outcome of forward-confirmed reverse DNS for one address:
// its PTR names and those of them that resolve back to it. A PTR lookup
// that found nothing (NXDOMAIN) is an answer too: no names.
type Answer struct {
	Addr netip.Addr `json:"addr"`
	PTR  []string   `json:"ptr"`
	// Confirmed are the PTR names under a crawler's suffixes that resolved
	// back to Addr.
	Confirmed []string `json:"confirmed"`
	// Refuted are the PTR names that were forward-resolved and did not
	// lead back (a PTR name in neither list was never checked).
	Refuted []string  `json:"refuted,omitempty"`
	At      time.Time `json:"at"`
}

// statusFor says what the answer means for a crawler with these suffixes.
func (a Answer) statusFor(suffixes []string) Status {
	for _, n := range a.Confirmed {
		if hasSuffix(n, suffixes) {
			return Verified
		}
	}
	for _, n := range a.PTR {
		if hasSuffix(n, suffixes) && !slices.Contains(a.Refuted, n) {
			// Checked for another crawler: this one's name was never resolved.
			return Unverifiable
		}
	}
	return Impostor
}

// merge adds what b learnt about the same address.
func (a Answer) merge(b Answer) Answer {
	for _, n := range b.Confirmed {
		if !slices.Contains(a.Confirmed, n) {
			a.Confirmed = append(a.Confirmed, n)
		}
	}
	for _, n := range b.Refuted {
		if !slices.Contains(a.Refuted, n) && !slices.Contains(a.Confirmed, n) {
			a.Refuted = append(a.Refuted, n)
		}
	}
	if b.At.After(a.At) {
		a.At = b.At
	}
	return a
}

// Answers is a fixed set of recorded reverse-DNS answers, by address. It is
// read-only once built, so replay's partitions share one.
type Answers struct {
	by map[netip.Addr]Answer
}

// NewAnswers builds a set from answers (a later one for an address wins).
func NewAnswers(answers []Answer) *Answers {
	s := &Answers{by: make(map[netip.Addr]Answer, len(answers))}
	for _, a := range answers {
		s.by[a.Addr.Unmap()] = a
	}
	return s
}

// Get returns the recorded answer for addr (a nil set has none).
func (s *Answers) Get(addr netip.Addr) (Answer, bool) {
	if s == nil {
		return Answer{}, false
	}
	a, ok := s.by[addr.Unmap()]
	return a, ok
}

// Len is how many addresses have an answer.
func (s *Answers) Len() int {
	if s == nil {
		return 0
	}
	return len(s.by)
}

// cacheFile is the format of an rDNS cache file (`bulwark bots
// export-cache`, `--rdns-cache`).
type cacheFile struct {
	Format     string    `json:"format"`
	ExportedAt time.Time `json:"exported_at"`
	Answers    []Answer  `json:"answers"`
}

const cacheFormat = "bulwark-rdns-cache/1"

// WriteAnswers writes answers as an rDNS cache file, sorted by address so
// that the same answers give the same bytes.
func WriteAnswers(w io.Writer, answers []Answer, now time.Time) error {
	answers = slices.Clone(answers)
	slices.SortFunc(answers, func(a, b Answer) int { return a.Addr.Compare(b.Addr) })
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(cacheFile{Format: cacheFormat, ExportedAt: now.UTC(), Answers: answers}); err != nil {
		return fmt.Errorf("write rDNS cache: %w", err)
	}
	return nil
}

// ReadAnswers reads an rDNS cache file. A later answer for an address
// replaces an earlier one.
func ReadAnswers(r io.Reader) (*Answers, error) {
	var f cacheFile
	dec := json.NewDecoder(io.LimitReader(r, 1<<30))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("rDNS cache: %w", err)
	}
	if f.Format != cacheFormat {
		return nil, fmt.Errorf("rDNS cache: format %q, want %q", f.Format, cacheFormat)
	}
	s := &Answers{by: make(map[netip.Addr]Answer, len(f.Answers))}
	for i, a := range f.Answers {
		if !a.Addr.IsValid() {
			return nil, fmt.Errorf("rDNS cache: answers[%d]: no address", i)
		}
		a.Addr = a.Addr.Unmap()
		if old, ok := s.by[a.Addr]; !ok || !a.At.Before(old.At) {
			s.by[a.Addr] = a
		}
	}
	return s, nil
}
