package challenge

import (
	"sync"
	"time"
)

// nonces remembers, per process, the challenges issued (to report those
// never answered as abandoned) and the nonces already answered (to refuse a
// replayed answer). Both forget an entry once its token has expired: an
// answer to an expired token is refused anyway. Replicas do not share it,
// so an answer replayed to another replica within the token's lifetime
// gets a second clearance for the same client, network and user agent,
// which gains the replayer nothing it did not have.
type nonces struct {
	mu     sync.Mutex
	used   map[[12]byte]time.Time // nonce -> when it may be forgotten
	issued map[[12]byte]issuedChallenge
	max    int
}

type issuedChallenge struct {
	subject string
	level   Level
	rule    string
	ip      string
	nonce   string
	at      time.Time
}

func newNonces(max int) *nonces {
	return &nonces{used: map[[12]byte]time.Time{}, issued: map[[12]byte]issuedChallenge{}, max: max}
}

// issue records a served challenge; false when the table is full (the
// challenge still works, only its abandonment goes unreported).
func (n *nonces) issue(nonce [12]byte, c issuedChallenge) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.issued) >= n.max {
		return false
	}
	n.issued[nonce] = c
	return true
}

// use marks a nonce answered; false when it was already, or when the table
// is full (then answers are refused until the sweep frees room, rather than
// letting replays through).
func (n *nonces) use(nonce [12]byte, forgetAt time.Time) (fresh, full bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.used[nonce]; dup {
		return false, false
	}
	if len(n.used) >= n.max {
		return false, true
	}
	n.used[nonce] = forgetAt
	delete(n.issued, nonce)
	return true, false
}

// sweep forgets what has expired at now and returns the challenges issued
// before cutoff and never answered.
func (n *nonces) sweep(now, cutoff time.Time) []issuedChallenge {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, t := range n.used {
		if now.After(t) {
			delete(n.used, k)
		}
	}
	var gone []issuedChallenge
	for k, c := range n.issued {
		if c.at.Before(cutoff) {
			gone = append(gone, c)
			delete(n.issued, k)
		}
	}
	return gone
}

func (n *nonces) sizes() (used, issued int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.used), len(n.issued)
}
