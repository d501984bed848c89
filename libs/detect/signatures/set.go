package signatures

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"regexp"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	ahocorasick "github.com/petar-dambovaliev/aho-corasick"
)

// Field indexes.
const (
	fTarget = iota
	fRaw
	fUA
	fReferer
	fMethod
	fProtocol
	numFields
)

// Signature is one compiled signature.
type Signature struct {
	ID          string
	Category    string
	Cat         int // index in Categories
	Severity    uint8
	Reference   string
	Description string
	// Hash identifies the signature in aggregator state (IDHash(ID)).
	Hash uint32

	fields   uint8 // bit per field
	literals []string
	anchor   string
	re       *regexp.Regexp
	notIn    []string
	methods  []string
	spec     sigSpec
}

// IDHash is the 32-bit hash under which the aggregator remembers a
// signature id.
func IDHash(id string) uint32 { return uint32(xxhash.Sum64String(id)) | 1 }

// Set is a compiled, tested signature set. It is immutable and safe for
// concurrent use; each goroutine matches with its own Matcher.
type Set struct {
	Name     string // "default" or the operator's file
	Revision string
	Digest   string // of the merged signatures, for logs
	Sigs     []Signature
	byHash   map[uint32]int

	ac    [numFields]*ahocorasick.AhoCorasick
	owner [numFields][][]int // per field: literal index -> signatures
	notIn [numFields][]int   // per field: signatures of the not_in kind
}

// Lookup returns the signature with hash h (see IDHash).
func (s *Set) Lookup(h uint32) (*Signature, bool) {
	i, ok := s.byHash[h]
	if !ok {
		return nil, false
	}
	return &s.Sigs[i], true
}

func compile(spec *fileSpec, name string) (*Set, error) {
	set := &Set{Name: name, Revision: spec.Revision, byHash: map[uint32]int{}}
	seen := map[string]bool{}
	var lits [numFields][]string
	var litIdx [numFields]map[string]int
	for f := range litIdx {
		litIdx[f] = map[string]int{}
	}
	for _, sp := range spec.Signatures {
		where := fmt.Sprintf("%s: signature %q", name, sp.ID)
		if sp.line > 0 {
			where = fmt.Sprintf("%s:%d: signature %q", name, sp.line, sp.ID)
		}
		if err := sp.validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, where, err)
		}
		if seen[sp.ID] {
			return nil, fmt.Errorf("%w: %s: duplicate id", ErrInvalid, where)
		}
		seen[sp.ID] = true
		sig := Signature{
			ID: sp.ID, Category: sp.Category, Cat: slices.Index(Categories, sp.Category),
			Severity: severities[sp.Severity], Reference: sp.Reference, Description: sp.Description,
			Hash: IDHash(sp.ID), anchor: sp.Anchor, spec: sp,
		}
		for _, f := range sp.Fields {
			sig.fields |= 1 << slices.Index(fieldNames, f)
		}
		for _, l := range sp.Literals {
			sig.literals = append(sig.literals, strings.ToLower(l))
		}
		for _, v := range sp.NotIn {
			sig.notIn = append(sig.notIn, strings.ToLower(v))
		}
		for _, m := range sp.Methods {
			sig.methods = append(sig.methods, strings.ToUpper(m))
		}
		if sp.Regex != "" {
			re, err := regexp.Compile(sp.Regex)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: regex: %v", ErrInvalid, where, err)
			}
			sig.re = re
		}
		if _, dup := set.byHash[sig.Hash]; dup {
			return nil, fmt.Errorf("%w: %s: id hash collides with another id; rename it", ErrInvalid, where)
		}
		si := len(set.Sigs)
		set.byHash[sig.Hash] = si
		set.Sigs = append(set.Sigs, sig)
		for f := range numFields {
			if sig.fields&(1<<f) == 0 {
				continue
			}
			if len(sig.notIn) > 0 {
				set.notIn[f] = append(set.notIn[f], si)
				continue
			}
			for _, l := range sig.literals {
				li, ok := litIdx[f][l]
				if !ok {
					li = len(lits[f])
					litIdx[f][l] = li
					lits[f] = append(lits[f], l)
					set.owner[f] = append(set.owner[f], nil)
				}
				set.owner[f][li] = append(set.owner[f][li], si)
			}
		}
	}
	for f := range numFields {
		if len(lits[f]) > 0 {
			// A DFA over the lower-cased text with standard semantics, so
			// that overlapping literals ("../" inside "/..%2f../") are all
			// reported; its tables hold no pointers, which keeps garbage
			// collection from scanning them.
			b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{MatchKind: ahocorasick.StandardMatch, DFA: true})
			ac := b.Build(lits[f])
			set.ac[f] = &ac
		}
	}
	h := sha256.New()
	for _, s := range set.Sigs {
		fmt.Fprintf(h, "%+v\n", s.spec)
	}
	set.Digest = hex.EncodeToString(h.Sum(nil))[:12]
	if err := set.selfTest(); err != nil {
		return nil, err
	}
	return set, nil
}

// selfTest runs every signature's test strings against the whole set.
func (s *Set) selfTest() error {
	var errs []error
	m := s.NewMatcher()
	for i := range s.Sigs {
		sig := &s.Sigs[i]
		first := slices.Index(fieldNames, sig.spec.Fields[0])
		method := "GET"
		if len(sig.methods) > 0 {
			method = sig.methods[0]
		}
		for _, want := range []bool{true, false} {
			tests := sig.spec.Match
			if !want {
				tests = sig.spec.NoMatch
			}
			for _, v := range tests {
				req := testRequest(first, v, method)
				got := slices.Contains(m.Match(req), i)
				if got != want {
					verb := "does not match"
					if got {
						verb = "matches"
					}
					errs = append(errs, fmt.Errorf("%w: %s: signature %q %s its test string %q", ErrInvalid, s.Name, sig.ID, verb, v))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// testRequest builds a request whose field f is v.
func testRequest(f int, v, method string) Request {
	r := Request{Method: method, Path: "/", Protocol: "HTTP/1.1"}
	switch f {
	case fTarget, fRaw:
		r.Path, r.Query, _ = strings.Cut(v, "?")
	case fUA:
		r.UserAgent = v
	case fReferer:
		r.Referer = v
	case fMethod:
		r.Method = v
	case fProtocol:
		r.Protocol = v
	}
	return r
}

// Request is what a signature looks at.
type Request struct {
	Method, Path, Query, Protocol, UserAgent, Referer string
}

// Matcher matches requests against a Set. It holds scratch buffers and a
// cache, so it is not safe for concurrent use; make one per goroutine.
type Matcher struct {
	set      *Set
	text     [numFields][]byte
	tmp      []byte
	hits     []int
	seenMark []uint32 // per signature: gen when it was last put in hits
	gen      uint32
	fhits    []int
	fmark    []uint32 // per signature: fgen when it was last found in the field
	fgen     uint32
	// cache holds the matches of each field, by a hash of field, method and
	// text: user agents, referers and popular pages repeat from request to
	// request, and matching them is most of the cost.
	cache map[uint64][]int
}

// cacheMax bounds Matcher.cache; it is cleared when full, which only costs
// matching again, and keeps memory flat under UA-rotating clients.
const cacheMax = 1 << 13

// NewMatcher returns a Matcher for s.
func (s *Set) NewMatcher() *Matcher {
	return &Matcher{set: s, seenMark: make([]uint32, len(s.Sigs)), fmark: make([]uint32, len(s.Sigs)),
		cache: make(map[uint64][]int)}
}

// Set returns the set m matches against.
func (m *Matcher) Set() *Set { return m.set }

// Match returns the indexes (into Set.Sigs) of the signatures r matches,
// in set order. The slice is reused by the next call.
func (m *Matcher) Match(r Request) []int {
	m.hits = m.hits[:0]
	m.gen++
	if m.gen == 0 {
		clear(m.seenMark)
		m.gen = 1
	}
	// Keys hash the text as sent, so that a cached field costs neither
	// decoding nor lower-casing.
	mh := xxhash.Sum64String(r.Method) * 0x9E3779B97F4A7C15
	key := xxhash.Sum64String(r.Path) ^ bits.RotateLeft64(xxhash.Sum64String(r.Query), 17) ^ mh
	hs, ok := m.cache[key]
	if !ok {
		m.text[fTarget], m.tmp = decodeTarget(m.text[fTarget][:0], m.tmp, r.Path, r.Query)
		m.text[fRaw] = lowerInto(m.text[fRaw][:0], r.Path)
		if r.Query != "" {
			m.text[fRaw] = append(m.text[fRaw], '?')
			m.text[fRaw] = lowerInto(m.text[fRaw], r.Query)
		}
		hs = slices.Clone(m.fieldHits(fTarget, m.text[fTarget], r.Method))
		if hasEncoding(m.text[fRaw]) { // raw signatures look for encodings
			for _, si := range m.fieldHits(fRaw, m.text[fRaw], r.Method) {
				if !slices.Contains(hs, si) {
					hs = append(hs, si)
				}
			}
		}
		m.store(key, hs)
	}
	m.add(hs)
	for _, f := range [...]struct {
		field int
		v     string
	}{{fUA, r.UserAgent}, {fReferer, r.Referer}, {fMethod, r.Method}, {fProtocol, r.Protocol}} {
		if f.v == "" {
			continue
		}
		key := xxhash.Sum64String(f.v) ^ mh ^ uint64(f.field)<<59
		hs, ok := m.cache[key]
		if !ok {
			m.text[f.field] = lowerInto(m.text[f.field][:0], f.v)
			hs = slices.Clone(m.fieldHits(f.field, m.text[f.field], r.Method))
			m.store(key, hs)
		}
		m.add(hs)
	}
	slices.Sort(m.hits)
	return m.hits
}

func (m *Matcher) store(key uint64, hs []int) {
	if len(m.cache) >= cacheMax {
		clear(m.cache)
	}
	m.cache[key] = hs
}

// add puts the signatures hs in the hits, once each.
func (m *Matcher) add(hs []int) {
	for _, si := range hs {
		if m.seenMark[si] != m.gen {
			m.seenMark[si] = m.gen
			m.hits = append(m.hits, si)
		}
	}
}

// fieldHits returns the signatures that match text in field f (a slice
// reused by the next call).
func (m *Matcher) fieldHits(f int, text []byte, method string) []int {
	s := m.set
	m.fhits = m.fhits[:0]
	m.fgen++
	if m.fgen == 0 {
		clear(m.fmark)
		m.fgen = 1
	}
	if ac := s.ac[f]; ac != nil {
		it := ac.IterOverlappingByte(text)
		for hit := it.Next(); hit != nil; hit = it.Next() {
			for _, si := range s.owner[f][hit.Pattern()] {
				m.consider(si, text, method)
			}
		}
	}
	for _, si := range s.notIn[f] {
		m.consider(si, text, method)
	}
	return m.fhits
}

// consider checks candidate si against text and records it once per field.
func (m *Matcher) consider(si int, text []byte, method string) {
	if m.fmark[si] == m.fgen {
		return
	}
	sig := &m.set.Sigs[si]
	if len(sig.methods) > 0 && !slices.Contains(sig.methods, method) {
		return
	}
	if len(sig.notIn) > 0 {
		for _, v := range sig.notIn {
			if string(text) == v { // compared without a copy
				return
			}
		}
	} else {
		if sig.anchor != "" && !anchored(sig, text) {
			return
		}
		if sig.re != nil && !sig.re.Match(text) {
			return
		}
	}
	m.fmark[si] = m.fgen
	m.fhits = append(m.fhits, si)
}

func anchored(sig *Signature, text []byte) bool {
	for _, l := range sig.literals {
		n := len(l)
		if n > len(text) {
			continue
		}
		switch sig.anchor {
		case "start":
			if string(text[:n]) == l {
				return true
			}
		case "end":
			if string(text[len(text)-n:]) == l {
				return true
			}
		case "exact":
			if string(text) == l {
				return true
			}
		}
	}
	return false
}

// Tests is how many test strings the signature carries.
func (s *Signature) Tests() int { return len(s.spec.Match) + len(s.spec.NoMatch) }

func hasEncoding(b []byte) bool {
	for _, c := range b {
		if c == '%' || c == '\\' {
			return true
		}
	}
	return false
}
