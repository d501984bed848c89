package verdicttable

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// ErrBadSubject is returned (wrapped) by Apply for a key that is not a subject.
var ErrBadSubject = errors.New("verdict table: bad subject")

// ErrBadAction is returned (wrapped) by Apply for a verdict whose action is
// none this version knows (a newer decider's, or a hand-written record):
// the table keeps what it had rather than guess how strong it is.
var ErrBadAction = errors.New("verdict table: unknown action")

func knownAction(v *eventpb.Verdict) error {
	if a := v.GetAction(); a < eventpb.Action_ACTION_UNSPECIFIED || a > eventpb.Action_BLOCK {
		return fmt.Errorf("%w %d", ErrBadAction, a)
	}
	if a := v.GetWouldBe(); a < eventpb.Action_ACTION_UNSPECIFIED || a > eventpb.Action_BLOCK {
		return fmt.Errorf("%w %d in would_be", ErrBadAction, a)
	}
	return nil
}

const shardBits = 8

// Table is the verdict table. The zero value is not usable; call New.
// Every method is safe for concurrent use.
type Table struct {
	ips      *exactTable // keyed by the 16-byte form of unmapped addresses
	sessions *exactTable // keyed by sessionKey
	// Two independently seeded 64-bit hashes make a session's 128-bit key;
	// two ids share one with probability 2^-128 per pair.
	seed1, seed2 maphash.Seed

	netsMu sync.Mutex // serialises writers of nets
	nets   atomic.Pointer[bart.Table[entry]]

	extras *interner
	fps    *fpTable // fp: verdicts (fps.go)

	nIP, nNet, nSession atomic.Int64
}

// New returns an empty table.
func New() *Table {
	t := &Table{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), extras: newInterner(), fps: newFPTable()}
	t.ips = newExactTable(maphash.Comparable(t.seed1, 0), false)
	t.sessions = newExactTable(maphash.Comparable(t.seed2, 0), true)
	t.nets.Store(new(bart.Table[entry]))
	return t
}

func ipKey(a netip.Addr) exactKey {
	if a.Is4() {
		b := a.As4()
		return exactKey{0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return exactKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (k exactKey) addr() netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.AddrFrom16(b).Unmap()
}

func (t *Table) sessionKey(id string) exactKey {
	return exactKey{maphash.String(t.seed1, id), maphash.String(t.seed2, id)}
}

// setIP stores (or with del, deletes) the exact verdict of an unmapped
// address and returns the entry it replaced.
func (t *Table) setIP(a netip.Addr, e entry, del bool) (old entry, existed bool) {
	if del {
		if old, existed = t.ips.del(ipKey(a)); existed {
			t.nIP.Add(-1)
		}
		return old, existed
	}
	if old, existed = t.ips.put(ipKey(a), "", e); !existed {
		t.nIP.Add(1)
	}
	return old, existed
}

// Apply sets the verdict on a subject; a nil verdict (a tombstone) removes
// it. A verdict that has already expired removes the subject too. The key
// is parsed with subject.Parse, so "ip:…", "net:…", "session:…" and bare
// addresses or CIDRs are accepted.
func (t *Table) Apply(key string, v *eventpb.Verdict) error {
	sub, err := subject.Parse(key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSubject, err)
	}
	if v != nil {
		if err := knownAction(v); err != nil {
			return err
		}
	}
	if v != nil && !entryActive(v, time.Now().UnixNano()) {
		v = nil
	}
	if v == nil {
		t.remove(sub)
		return nil
	}
	t.store(sub, v, t.newEntry(v))
	return nil
}

// store stores e, the entry of v, on sub: an fp: verdict with its addresses.
func (t *Table) store(sub subject.Subject, v *eventpb.Verdict, e entry) {
	if sub.Kind == subject.KindFP {
		t.setFP(sub.FP, e, v.GetAddresses(), false)
		return
	}
	t.set(sub, e)
}

func entryActive(v *eventpb.Verdict, now int64) bool {
	exp := v.GetExpiresAtUnixNano()
	return exp == 0 || now < exp
}

// set stores e, which holds a reference on its extra, and releases the
// entry it replaces.
func (t *Table) set(sub subject.Subject, e entry) {
	var old entry
	var existed bool
	switch sub.Kind {
	case subject.KindIP:
		old, existed = t.setIP(sub.Addr, e, false)
	case subject.KindSession:
		if old, existed = t.sessions.put(t.sessionKey(sub.Session), sub.Session, e); !existed {
			t.nSession.Add(1)
		}
	case subject.KindNet:
		t.netsMu.Lock()
		cur := t.nets.Load()
		old, existed = cur.Get(sub.Prefix)
		next := cur.InsertPersist(sub.Prefix, e)
		t.nets.Store(next)
		t.nNet.Store(int64(next.Size()))
		t.netsMu.Unlock()
	default:
		t.extras.release(e.extra)
		return
	}
	if existed {
		t.extras.release(old.extra)
	}
}

func (t *Table) remove(sub subject.Subject) {
	var old entry
	var existed bool
	switch sub.Kind {
	case subject.KindIP:
		old, existed = t.setIP(sub.Addr, entry{}, true)
	case subject.KindSession:
		if old, existed = t.sessions.del(t.sessionKey(sub.Session)); existed {
			t.nSession.Add(-1)
		}
	case subject.KindNet:
		t.netsMu.Lock()
		cur := t.nets.Load()
		if old, existed = cur.Get(sub.Prefix); existed {
			next := cur.DeletePersist(sub.Prefix)
			t.nets.Store(next)
			t.nNet.Store(int64(next.Size()))
		}
		t.netsMu.Unlock()
	case subject.KindFP:
		t.setFP(sub.FP, entry{}, nil, true)
	}
	if existed {
		t.extras.release(old.extra)
	}
}

// Result is the answer of a lookup: the strongest active verdict that
// applies, or ALLOW with Kind == subject.KindUnknown when none does.
type Result struct {
	Action eventpb.Action
	// Kind says which subject matched: KindIP, KindNet, KindSession,
	// KindFP (an fp: verdict listing the address), or KindUnknown when
	// nothing did.
	Kind subject.Kind
	// Addr is the address looked up (unmapped).
	Addr netip.Addr
	// Prefix is the matching network when Kind is KindNet.
	Prefix netip.Prefix
	// Session is the session looked up.
	Session string
	// FP is the matching fingerprint when Kind is KindFP.
	FP     uint64
	e      entry
	extras *interner
}

// Found reports whether a verdict matched.
func (r Result) Found() bool { return r.Kind != subject.KindUnknown }

// Subject is the matching verdict's subject; for no match, the looked-up
// client's ("ip:…", or "session:…" when only a session was given).
func (r Result) Subject() string {
	switch r.Kind {
	case subject.KindNet:
		return subject.Net(r.Prefix)
	case subject.KindSession:
		return subject.Session(r.Session)
	case subject.KindFP:
		return subject.FP(r.FP)
	}
	if !r.Addr.IsValid() && r.Session != "" {
		return subject.Session(r.Session)
	}
	if !r.Addr.IsValid() {
		return ""
	}
	return subject.IP(r.Addr)
}

// Verdict returns the matching verdict as a message (a new one each call),
// or nil when nothing matched.
func (r Result) Verdict() *eventpb.Verdict {
	if !r.Found() {
		return nil
	}
	return r.e.verdict(r.extras, r.Subject())
}

// Score is the matching verdict's score (0 for no match): a CHALLENGE's
// score picks the challenge's level.
func (r Result) Score() float64 { return r.e.score }

// ExpiresAt is the matching verdict's expiry (zero for never or no match).
func (r Result) ExpiresAt() time.Time {
	if r.e.exp == 0 {
		return time.Time{}
	}
	return time.Unix(0, r.e.exp).UTC()
}

func (r *Result) consider(kind subject.Kind, e *entry) {
	if r.outranks(e) {
		r.Kind, r.Action, r.e = kind, eventpb.Action(e.action), *e
	}
}

// outranks reports whether e should replace the answer found so far: an
// operator's verdict beats a computed one (`bulwark allow` on an address
// lifts a computed BLOCK of its network), then the stronger action wins.
func (r *Result) outranks(e *entry) bool {
	if r.Kind == subject.KindUnknown {
		return true
	}
	op := uint8(eventpb.Origin_OPERATOR)
	if (e.origin == op) != (r.e.origin == op) {
		return e.origin == op
	}
	return eventpb.Action(e.action) > r.Action
}

// Lookup finds the strongest active verdict for a client: its IP's, those of
// every network containing it, the fp: verdicts listing it, and its session's; an operator's verdict
// among them beats every computed one. An invalid ip or an empty session is
// not looked up. On a tie the more specific subject wins (IP, then the
// longer network, then the session). It does not allocate.
func (t *Table) Lookup(ip netip.Addr, session string, now time.Time) Result {
	nowNs := now.UnixNano()
	r := Result{Action: eventpb.Action_ALLOW, Session: session, extras: t.extras}
	if ip.IsValid() {
		ip = ip.Unmap()
		r.Addr = ip
		if e, ok := t.ips.get(ipKey(ip)); ok && e.active(nowNs) {
			r.consider(subject.KindIP, &e)
		}
		if nets := t.nets.Load(); nets.Size() > 0 {
			t.lookupNets(nets, ip, nowNs, &r)
		}
		t.lookupFPs(ip, nowNs, &r)
	}
	if session != "" {
		if e, ok := t.sessions.get(t.sessionKey(session)); ok && e.active(nowNs) {
			r.consider(subject.KindSession, &e)
		}
	}
	return r
}

// lookupNets walks the networks containing ip from the longest to the
// shortest: each LookupPrefixLPM finds the longest one below the previous.
// Most clients are in no listed network, and bart's plain Lookup answers
// that in a third of LookupPrefixLPM's time.
func (t *Table) lookupNets(nets *bart.Table[entry], ip netip.Addr, now int64, r *Result) {
	if _, ok := nets.Lookup(ip); !ok {
		return
	}
	bits := ip.BitLen()
	for bits >= 0 {
		pfx, e, ok := nets.LookupPrefixLPM(netip.PrefixFrom(ip, bits))
		if !ok {
			return
		}
		if e.active(now) && r.outranks(&e) {
			r.Kind, r.Action, r.Prefix, r.e = subject.KindNet, eventpb.Action(e.action), pfx, e
		}
		bits = pfx.Bits() - 1
	}
}

// Get returns the verdict stored under one subject, expired or not.
func (t *Table) Get(key string) (*eventpb.Verdict, bool) {
	sub, err := subject.Parse(key)
	if err != nil {
		return nil, false
	}
	var e entry
	var ok bool
	switch sub.Kind {
	case subject.KindIP:
		e, ok = t.ips.get(ipKey(sub.Addr))
	case subject.KindSession:
		e, ok = t.sessions.get(t.sessionKey(sub.Session))
	case subject.KindNet:
		e, ok = t.nets.Load().Get(sub.Prefix)
	case subject.KindFP:
		fv, found := t.getFP(sub.FP)
		if !found {
			return nil, false
		}
		v := fv.e.verdict(t.extras, sub.String())
		v.Addresses = fv.addrs
		return v, true
	}
	if !ok {
		return nil, false
	}
	return e.verdict(t.extras, sub.String()), true
}

// Sizes counts the stored verdicts by subject kind (expired ones not yet
// swept included).
type Sizes struct{ IP, Net, Session, FP int }

// Sizes returns the number of stored verdicts by kind.
func (t *Table) Sizes() Sizes {
	return Sizes{IP: int(t.nIP.Load()), Net: int(t.nNet.Load()), Session: int(t.nSession.Load()), FP: int(t.fps.n.Load())}
}

// Len is the number of stored verdicts.
func (t *Table) Len() int {
	s := t.Sizes()
	return s.IP + s.Net + s.Session + s.FP
}
