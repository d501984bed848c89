// Package clientip finds a request's client address the way operators
// configure it: the socket peer, unless that peer is a trusted proxy, in which
// case the X-Forwarded-For chain is walked from the right, skipping trusted
// hops, and the first untrusted hop is the client.
//
// The walk follows nginx's realip module with `real_ip_recursive on`, so an
// operator who knows `set_real_ip_from` gets the same answer from Bulwark:
//   - no trusted proxies: the socket peer is the client, X-Forwarded-For is
//     ignored (anyone can send it);
//   - every hop trusted: the leftmost hop is the client;
//   - a hop that is not an address ("unknown", an obfuscated RFC 7239 name,
//     garbage) stops the walk, and the last trusted address seen is the
//     client: whatever lies left of it was written by someone we cannot vouch
//     for, and taking it would let clients choose their own address.
//
// Every method is safe for concurrent use and allocates nothing.
package clientip

import (
	"fmt"
	"net/netip"
	"strings"
	"unsafe"

	"github.com/gaissmai/bart"
)

// Resolver holds the trusted proxy prefixes. The zero value and a nil
// *Resolver trust nothing.
type Resolver struct {
	trusted bart.Lite
	n       int
}

// New returns a Resolver trusting the given prefixes (IPv4-mapped IPv6
// prefixes are unmapped, invalid ones skipped).
func New(trusted []netip.Prefix) *Resolver {
	r := &Resolver{}
	for _, p := range trusted {
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		r.trusted.Insert(p.Masked())
		r.n++
	}
	return r
}

// ParseCIDRs parses a comma-separated list such as "10.0.0.0/8, 127.0.0.1, ::1"
// (a bare address means that single host). Blank input gives an empty list.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if strings.Contains(part, "/") {
			p, err := netip.ParsePrefix(part)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", part, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", part, err)
		}
		a = a.WithZone("").Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Len is the number of trusted prefixes.
func (r *Resolver) Len() int {
	if r == nil {
		return 0
	}
	return r.n
}

// Trusted reports whether addr is inside a trusted prefix.
func (r *Resolver) Trusted(addr netip.Addr) bool {
	if r == nil || r.n == 0 || !addr.IsValid() {
		return false
	}
	return r.trusted.Contains(addr.Unmap())
}

// FromXFF returns the client address for a request whose socket peer is
// remote and whose X-Forwarded-For (or X-Real-IP) header value is xff. The
// result is canonical: IPv4-mapped addresses unmapped, zones dropped.
//
// An invalid remote stands for a peer without an IP address, such as a
// Unix-socket connection (nginx logs "unix:"): only a local process can make
// one, so it counts as trusted whenever any proxy is trusted. The result is
// invalid only when remote is invalid and no usable hop was found.
func (r *Resolver) FromXFF(remote netip.Addr, xff []byte) netip.Addr {
	// The string only lives during this call and netip keeps no reference to it.
	return r.FromXFFString(remote, unsafe.String(unsafe.SliceData(xff), len(xff)))
}

// FromXFFString is FromXFF for a header value held as a string (net/http).
func (r *Resolver) FromXFFString(remote netip.Addr, xff string) netip.Addr {
	remote = remote.Unmap().WithZone("")
	if r == nil || r.n == 0 {
		return remote
	}
	if remote.IsValid() && !r.trusted.Contains(remote) {
		return remote
	}
	client := remote
	for len(xff) > 0 {
		var hop string
		if i := strings.LastIndexByte(xff, ','); i >= 0 {
			hop, xff = xff[i+1:], xff[:i]
		} else {
			hop, xff = xff, ""
		}
		hop = trimOWS(hop)
		if hop == "" {
			// "a,,b" or a trailing comma: an empty list element, which
			// RFC 9110 lets senders produce; it carries no hop.
			continue
		}
		a, ok := ParseHop(hop)
		if !ok {
			return client
		}
		client = a
		if !r.trusted.Contains(a) {
			return a
		}
	}
	return client
}

// ParseHop parses one X-Forwarded-For element: "192.0.2.1",
// "192.0.2.1:8080", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:443".
// A zone ("fe80::1%eth0") is dropped, being local to the machine that wrote
// it, and IPv4-mapped IPv6 addresses are unmapped so they match IPv4 prefixes.
func ParseHop(hop string) (netip.Addr, bool) {
	if hop == "" || len(hop) > 64 {
		return netip.Addr{}, false
	}
	if hop[0] == '[' {
		end := strings.IndexByte(hop, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		rest := hop[end+1:]
		if rest != "" && !validPort(rest) {
			return netip.Addr{}, false
		}
		hop = hop[1:end]
		a, ok := parseAddr(hop)
		if !ok || !a.Is6() {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	if c := strings.IndexByte(hop, ':'); c >= 0 && strings.IndexByte(hop[c+1:], ':') < 0 {
		// Exactly one colon: IPv4 with a port.
		if !validPort(hop[c:]) {
			return netip.Addr{}, false
		}
		a, ok := parseAddr(hop[:c])
		if !ok || !a.Is4() {
			return netip.Addr{}, false
		}
		return a, true
	}
	a, ok := parseAddr(hop)
	if !ok {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// ParseHopBytes is ParseHop for a byte slice, without copying it.
func ParseHopBytes(hop []byte) (netip.Addr, bool) {
	return ParseHop(unsafe.String(unsafe.SliceData(hop), len(hop)))
}

func parseAddr(s string) (netip.Addr, bool) {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		// netip would intern the zone (an allocation); it means nothing
		// off the machine that logged it, so it is dropped first.
		if i == 0 || i == len(s)-1 {
			return netip.Addr{}, false
		}
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a, true
}

// validPort checks ":digits" with a value of at most 65535.
func validPort(s string) bool {
	if len(s) < 2 || len(s) > 6 || s[0] != ':' {
		return false
	}
	n := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
