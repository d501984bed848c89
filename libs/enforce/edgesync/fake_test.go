package edgesync

import (
	"context"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/libs/verdicts/blockset"
)

// fakeTarget records what the loop asks of an edge and fails on demand.
type fakeTarget struct {
	mu            sync.Mutex
	applies       []applied
	fail          []error // returned by the next applies, in order
	resyncPending bool
	resyncedAt    time.Time
	// seen, when set, receives every apply (tests that run outside a
	// bubble wait on it).
	seen chan applied
}

// applied is one Apply call as the target saw it.
type applied struct {
	at       time.Time
	subjects []string
	whole    bool // a Resync came before it
}

func (f *fakeTarget) Apply(_ context.Context, active []blockset.Entry, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := applied{at: now, whole: f.resyncPending}
	for _, e := range active {
		a.subjects = append(a.subjects, e.Subject)
	}
	f.applies = append(f.applies, a)
	if f.seen != nil {
		f.seen <- a
	}
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		return err
	}
	if f.resyncPending {
		f.resyncPending, f.resyncedAt = false, now
	}
	return nil
}

func (f *fakeTarget) Resync() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resyncPending = true
}

func (f *fakeTarget) ResyncedAt() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resyncedAt
}

// calls returns a copy of the applies so far.
func (f *fakeTarget) calls() []applied {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]applied(nil), f.applies...)
}

// failNext makes the next applies return errs, in order.
func (f *fakeTarget) failNext(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = append(f.fail, errs...)
}
