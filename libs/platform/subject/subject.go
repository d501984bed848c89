// Package subject names what a score or verdict is about.
//
// A subject is a string (contract, ARCHITECTURE.md): "ip:203.0.113.7",
// "ip:2001:db8::1", "net:203.0.113.0/24", "session:<id>", "fp:<16 hex digits>"
// (a shared fingerprint, see fp.go). It is the Kafka key
// on the scores and verdicts topics, so its spelling must be canonical: the
// same client always gives the same bytes.
package subject

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Kind is the type of a subject.
type Kind uint8

const (
	KindUnknown Kind = iota
	KindIP
	KindNet
	KindSession
	// KindFP is a fingerprint shared by many addresses (fp.go).
	KindFP
)

func (k Kind) String() string {
	switch k {
	case KindIP:
		return "ip"
	case KindNet:
		return "net"
	case KindSession:
		return "session"
	case KindFP:
		return "fp"
	}
	return "unknown"
}

// ErrMalformed is returned (wrapped) for a string that is not a subject.
var ErrMalformed = errors.New("malformed subject")

// Subject is a parsed subject. Exactly one of Addr, Prefix, Session, FP is
// set, according to Kind.
type Subject struct {
	Kind    Kind
	Addr    netip.Addr
	Prefix  netip.Prefix
	Session string
	FP      uint64
}

// IP returns the canonical subject of one address ("ip:203.0.113.7").
// IPv4-mapped IPv6 addresses are unmapped so that both spellings agree.
func IP(a netip.Addr) string { return "ip:" + a.Unmap().String() }

// Net returns the canonical subject of a network ("net:203.0.113.0/24"),
// with the host bits masked off.
func Net(p netip.Prefix) string {
	a := p.Addr().Unmap()
	bits := p.Bits()
	if p.Addr().Is4In6() && bits >= 96 {
		bits -= 96
	}
	return "net:" + netip.PrefixFrom(a, bits).Masked().String()
}

// NetOf returns the aggregation network of an address: its /24 for IPv4 and
// its /64 for IPv6.
func NetOf(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}

// Session returns the subject of a session id ("session:<id>").
func Session(id string) string { return "session:" + id }

// String returns the canonical spelling of s.
func (s Subject) String() string {
	switch s.Kind {
	case KindIP:
		return IP(s.Addr)
	case KindNet:
		return Net(s.Prefix)
	case KindSession:
		return Session(s.Session)
	case KindFP:
		return FP(s.FP)
	}
	return ""
}

// Parse parses a subject. It also accepts a bare IP address or CIDR, which is
// what operators type on the command line (`bulwark block 203.0.113.7`).
func Parse(s string) (Subject, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if ok {
		switch kind {
		case "ip":
			a, err := netip.ParseAddr(rest)
			if err != nil || a.Zone() != "" {
				return Subject{}, fmt.Errorf("%w %q: bad IP address", ErrMalformed, truncate(s))
			}
			return Subject{Kind: KindIP, Addr: a.Unmap()}, nil
		case "net":
			p, err := netip.ParsePrefix(rest)
			if err != nil {
				return Subject{}, fmt.Errorf("%w %q: bad network, want CIDR like 203.0.113.0/24", ErrMalformed, truncate(s))
			}
			return Subject{Kind: KindNet, Prefix: canonicalPrefix(p)}, nil
		case "session":
			if why := sessionProblem(rest); why != "" {
				return Subject{}, fmt.Errorf("%w %q: %s", ErrMalformed, truncate(s), why)
			}
			return Subject{Kind: KindSession, Session: rest}, nil
		case "fp":
			fp, err := parseFP(rest)
			if err != nil {
				return Subject{}, fmt.Errorf("%w %q: %v", ErrMalformed, truncate(s), err)
			}
			return Subject{Kind: KindFP, FP: fp}, nil
		}
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return Subject{Kind: KindIP, Addr: a.Unmap()}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return Subject{Kind: KindNet, Prefix: canonicalPrefix(p)}, nil
	}
	return Subject{}, fmt.Errorf("%w %q: want ip:ADDR, net:CIDR, session:ID or fp:HEX", ErrMalformed, truncate(s))
}

// Canonical parses s and returns its canonical spelling.
func Canonical(s string) (string, error) {
	sub, err := Parse(s)
	if err != nil {
		return "", err
	}
	return sub.String(), nil
}

func canonicalPrefix(p netip.Prefix) netip.Prefix {
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// truncate shortens what an error message quotes: a 100 KB subject must not
// become a 100 KB log line.
func truncate(s string) string {
	const maxQuoted = 80
	if len(s) <= maxQuoted {
		return s
	}
	return s[:maxQuoted] + "..."
}
