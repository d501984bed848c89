package cfsync

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// maxComment bounds an item's comment; Cloudflare keeps comments short.
const maxComment = 500

// ipKey returns the spelling under which Cloudflare stores a network in an
// IP list, or false when a list cannot hold it. IPv4: /8 to /32 as they are
// (a /32 as the bare address). IPv6: a single address or anything longer
// than /64 is widened to its /64 (Cloudflare's finest IPv6 granularity);
// networks shorter than /4 cannot be listed.
func ipKey(p netip.Prefix) (string, bool) {
	a := p.Addr().Unmap()
	bits := p.Bits()
	if p.Addr().Is4In6() {
		bits -= 96
	}
	if a.Is4() {
		if bits < 8 {
			return "", false
		}
		if bits == 32 {
			return a.String(), true
		}
		return netip.PrefixFrom(a, bits).Masked().String(), true
	}
	if bits < 4 {
		return "", false
	}
	bits = min(bits, 64)
	return netip.PrefixFrom(a, bits).Masked().String(), true
}

// remoteKey parses an item read back from a list into the same spelling, so
// that items and desired entries compare; unparseable items keep their text
// (they are removed: nothing desired has that key).
func remoteKey(ip string) string {
	if !strings.Contains(ip, "/") {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return ip
		}
		k, ok := ipKey(netip.PrefixFrom(a, a.BitLen()))
		if !ok {
			return ip
		}
		return k
	}
	p, err := netip.ParsePrefix(ip)
	if err != nil {
		return ip
	}
	if k, ok := ipKey(p); ok {
		return k
	}
	return ip
}

// want is one item a list should hold: the merge of every verdict that maps
// to the same key (IPv6 addresses sharing a /64, for instance).
type want struct {
	key      string
	action   eventpb.Action
	score    float64
	expires  time.Time // zero: never
	reasons  []string
	subjects int
}

// merge folds an entry into w: the strongest action and highest score win,
// the item lives as long as the longest-lived verdict.
func (w *want) merge(e blockset.Entry) {
	if w.subjects == 0 || verdict.Stronger(e.Action, w.action) ||
		e.Action == w.action && e.Score > w.score {
		w.action, w.score, w.reasons = e.Action, e.Score, e.Reasons
	}
	if w.subjects == 0 {
		w.expires = e.ExpiresAt
	} else if w.expires.IsZero() || e.ExpiresAt.IsZero() {
		w.expires = time.Time{}
	} else if e.ExpiresAt.After(w.expires) {
		w.expires = e.ExpiresAt
	}
	w.subjects++
}

// comment is the item's comment: why it is listed and until when.
func (w *want) comment() string {
	var b strings.Builder
	b.WriteString("bulwark ")
	b.WriteString(verdict.ActionString(w.action))
	b.WriteString(" score=")
	b.WriteString(strconv.FormatFloat(w.score, 'f', -1, 64))
	b.WriteString(" expires=")
	b.WriteString(formatExpiry(w.expires))
	if w.subjects > 1 {
		fmt.Fprintf(&b, " subjects=%d", w.subjects)
	}
	if len(w.reasons) > 0 {
		b.WriteString(" reasons=")
		b.WriteString(strings.Join(w.reasons, ","))
	}
	s := b.String()
	if len(s) > maxComment {
		s = s[:maxComment]
	}
	return s
}

func formatExpiry(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// commentExpiry reads the expiry back from a comment this syncer wrote.
func commentExpiry(c string) (exp time.Time, ok bool) {
	if !strings.HasPrefix(c, "bulwark ") {
		return time.Time{}, false
	}
	_, rest, found := strings.Cut(c, " expires=")
	if !found {
		return time.Time{}, false
	}
	v, _, _ := strings.Cut(rest, " ")
	if v == "never" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// needsRewrite reports whether an item already listed under the right key
// should be written again for its comment: only when the comment is not
// ours or the expiry it states moved by more than slack. Rewriting every
// comment change would spend the list's write budget on nothing.
func needsRewrite(comment string, w *want, slack time.Duration) bool {
	exp, ok := commentExpiry(comment)
	if !ok {
		return true
	}
	if exp.IsZero() != w.expires.IsZero() {
		return true
	}
	d := exp.Sub(w.expires)
	return d > slack || d < -slack
}

// plan is what the lists should hold after a sync.
type plan struct {
	block, challenge map[string]*want
	overflow         int // items left out for lack of capacity
	unlistable       int // entries no list can hold (IPv4 shorter than /8, ...)
}

// desired folds active entries into items, keeps at most capacity of them
// (strongest action, then highest score, then longest-lived first) and
// splits them by action. Challenge items go to the block list's side only
// when challengeList is on.
func desired(entries []blockset.Entry, capacity int, challengeList bool) plan {
	byKey := map[string]*want{}
	var p plan
	for _, e := range entries {
		if e.Action == eventpb.Action_CHALLENGE && !challengeList {
			continue
		}
		k, ok := ipKey(e.Prefix)
		if !ok {
			p.unlistable++
			continue
		}
		w := byKey[k]
		if w == nil {
			w = &want{key: k}
			byKey[k] = w
		}
		w.merge(e)
	}
	all := make([]*want, 0, len(byKey))
	for _, w := range byKey {
		all = append(all, w)
	}
	slices.SortFunc(all, func(a, b *want) int {
		if c := cmp.Compare(b.action, a.action); c != 0 {
			return c
		}
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if c := compareExpiry(b.expires, a.expires); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	if len(all) > capacity {
		p.overflow = len(all) - max(capacity, 0)
		all = all[:max(capacity, 0)]
	}
	p.block, p.challenge = map[string]*want{}, map[string]*want{}
	for _, w := range all {
		if w.action == eventpb.Action_BLOCK {
			p.block[w.key] = w
		} else {
			p.challenge[w.key] = w
		}
	}
	return p
}

// compareExpiry orders expiries with "never" (zero) as the latest.
func compareExpiry(a, b time.Time) int {
	switch {
	case a.Equal(b):
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	}
	return a.Compare(b)
}
