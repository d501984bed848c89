package challenge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/cookies"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// CookieName is the clearance cookie (contract, ARCHITECTURE.md).
const CookieName = "bulwark_clearance"

// CookieValue is the clearance cookie's value in one Cookie header line,
// or "". Every authorize path (the sidecar's /v1/authz and ext_authz, the
// gate, botguard) finds the cookie with it: no parsing of the other
// cookies, no allocation.
func CookieValue(header string) string { return cookies.Value(header, CookieName) }

// Errors of Verify; every refusal wraps one of them.
var (
	ErrMalformed    = errors.New("clearance: malformed")
	ErrUnknownKey   = errors.New("clearance: unknown key id")
	ErrForged       = errors.New("clearance: bad signature")
	ErrExpired      = errors.New("clearance: expired")
	ErrOtherNetwork = errors.New("clearance: issued to another network")
	ErrOtherAgent   = errors.New("clearance: issued to another user agent")
)

// Clearance says that a client passed a challenge: who, until when, which
// level, bound to the client's network (its /24 or /64) and user agent.
type Clearance struct {
	Subject string
	Expires time.Time
	Level   Level
	Nonce   [12]byte
	Net     netip.Prefix
	UAHash  [8]byte
}

// UAHash is the user agent's fingerprint a clearance is bound to.
func UAHash(ua string) (h [8]byte) {
	s := sha256.Sum256([]byte(ua))
	copy(h[:], s[:])
	return h
}

const cookieVersion = "1"

// Encode signs c with the first of ks: "1.KID.PAYLOAD.MAC", base64url.
func (c Clearance) Encode(ks *Keys) string {
	id, k := ks.signer()
	// payload: expiry (unix seconds), level, nonce, network (16-byte address
	// and prefix length), UA hash, subject.
	p := make([]byte, 0, 8+1+12+17+8+len(c.Subject))
	p = binary.BigEndian.AppendUint64(p, uint64(c.Expires.Unix()))
	p = append(p, byte(c.Level))
	p = append(p, c.Nonce[:]...)
	a := c.Net.Addr().As16()
	p = append(p, a[:]...)
	p = append(p, byte(c.Net.Bits()))
	p = append(p, c.UAHash[:]...)
	p = append(p, c.Subject...)
	head := cookieVersion + "." + id + "." + base64.RawURLEncoding.EncodeToString(p)
	mac := k.sum(nil, []byte(head))
	return head + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// decode checks the signature and unpacks, without the binding checks.
func decode(ks *Keys, v string) (Clearance, error) {
	var c Clearance
	ver, rest, ok := strings.Cut(v, ".")
	if !ok || ver != cookieVersion {
		return c, fmt.Errorf("%w: version", ErrMalformed)
	}
	id, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return c, fmt.Errorf("%w: no key id", ErrMalformed)
	}
	p64, mac64, ok := strings.Cut(rest, ".")
	if !ok || len(mac64) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return c, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	k := ks.key(id)
	if k == nil {
		return c, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	var macBuf, want [sha256.Size]byte
	if _, err := base64.RawURLEncoding.Decode(macBuf[:], []byte(mac64)); err != nil {
		return c, fmt.Errorf("%w: signature encoding", ErrMalformed)
	}
	head := v[:len(v)-len(mac64)-1]
	k.sum(want[:0], []byte(head))
	if !hmac.Equal(macBuf[:], want[:]) {
		return c, ErrForged
	}
	p, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil || len(p) < 8+1+12+17+8 {
		return c, fmt.Errorf("%w: payload", ErrMalformed)
	}
	c.Expires = time.Unix(int64(binary.BigEndian.Uint64(p)), 0)
	c.Level = Level(p[8])
	copy(c.Nonce[:], p[9:21])
	addr := netip.AddrFrom16([16]byte(p[21:37])).Unmap()
	if c.Net, err = addr.Prefix(int(p[37])); err != nil {
		return c, fmt.Errorf("%w: network", ErrMalformed)
	}
	copy(c.UAHash[:], p[38:46])
	c.Subject = string(p[46:])
	if !c.Level.valid() {
		return c, fmt.Errorf("%w: level %d", ErrMalformed, c.Level)
	}
	return c, nil
}

// Verifier checks clearance cookies. Checking one costs two SHA-256
// compressions for the signature and one for the user agent (about 2.7 µs
// here); a page view carries the same cookie again and again, so verified
// cookies are kept in a direct-mapped cache read without locks, and a
// repeat costs one hash of the cookie, two string comparisons and the
// expiry and network checks (BenchmarkVerifyCached; the budget is
// 200 ns).
type Verifier struct {
	keys  *Keys
	seed  maphash.Seed
	slots []atomic.Pointer[cached]
}

type cached struct {
	value, ua string
	c         Clearance
}

// cacheSlots is the cache's size: 32,768 visitors' cookies, 256 KiB of
// pointers. Two cookies landing in one slot only cost re-verification.
const cacheSlots = 1 << 15

// NewVerifier checks cookies signed by any of ks.
func NewVerifier(ks *Keys) *Verifier {
	return &Verifier{keys: ks, seed: maphash.MakeSeed(), slots: make([]atomic.Pointer[cached], cacheSlots)}
}

// Keys are the keys the verifier checks with (and a handler signs with).
func (v *Verifier) Keys() *Keys { return v.keys }

// Verify checks a cookie value for a client (address ip, user agent ua) at
// now: signature, expiry, network and user agent.
func (v *Verifier) Verify(value string, ip netip.Addr, ua string, now time.Time) (Clearance, error) {
	slot, e := v.lookup(value, ua)
	if e != nil {
		return e.c, e.c.bound(ip, now)
	}
	c, err := decode(v.keys, value)
	if err != nil {
		return c, err
	}
	if err := c.bound(ip, now); err != nil {
		return c, err
	}
	if UAHash(ua) != c.UAHash {
		return c, ErrOtherAgent
	}
	slot.Store(&cached{value: strings.Clone(value), ua: strings.Clone(ua), c: c})
	return c, nil
}

// lookup finds value's cache slot, and the entry in it when value was
// verified before for the user agent ua (signature and user agent: what
// does not change with time or the client's address).
func (v *Verifier) lookup(value, ua string) (*atomic.Pointer[cached], *cached) {
	slot := &v.slots[maphash.String(v.seed, value)&(cacheSlots-1)]
	if e := slot.Load(); e != nil && e.value == value && e.ua == ua {
		return slot, e
	}
	return slot, nil
}

// bound checks what a clearance is checked for on every request, cached
// or not: it has not expired, and the client is in its network.
func (c *Clearance) bound(ip netip.Addr, now time.Time) error {
	if !now.Before(c.Expires) {
		return ErrExpired
	}
	if !c.Net.Contains(ip.Unmap()) {
		return ErrOtherNetwork
	}
	return nil
}

// Satisfies reports whether a clearance cookie lets the client through a
// CHALLENGE that asks for level need. A missing or refused cookie does not.
// A cookie seen before is checked in its cache entry, without copying the
// clearance out as Verify does: this is every cleared request's path.
func (v *Verifier) Satisfies(value string, ip netip.Addr, ua string, need Level, now time.Time) bool {
	if value == "" || v == nil {
		return false
	}
	if _, e := v.lookup(value, ua); e != nil {
		return e.c.Level >= need && e.c.bound(ip, now) == nil
	}
	c, err := v.Verify(value, ip, ua, now)
	return err == nil && c.Level >= need
}

// NewClearance builds the clearance for a client that passed level at now.
func NewClearance(ip netip.Addr, ua string, level Level, nonce [12]byte, now time.Time, ttl time.Duration) Clearance {
	ip = ip.Unmap()
	return Clearance{
		Subject: subject.IP(ip),
		Expires: now.Add(ttl).Truncate(time.Second),
		Level:   level,
		Nonce:   nonce,
		Net:     subject.NetOf(ip),
		UAHash:  UAHash(ua),
	}
}
