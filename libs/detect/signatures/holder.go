package signatures

import (
	"sync"
	"sync/atomic"
)

// Holder holds the Set in force: a reloader stores a new one, engines load
// it on every event (one atomic load) and rebuild their Matcher when it
// changed.
type Holder struct{ p atomic.Pointer[Set] }

// NewHolder returns a Holder of s.
func NewHolder(s *Set) *Holder {
	h := &Holder{}
	h.p.Store(s)
	return h
}

// Load returns the Set in force.
func (h *Holder) Load() *Set { return h.p.Load() }

// Store puts s in force.
func (h *Holder) Store(s *Set) { h.p.Store(s) }

var (
	defaultOnce sync.Once
	defaultSet  *Set
)

// Shipped returns the shipped set, compiled once per process.
func Shipped() *Set {
	defaultOnce.Do(func() { defaultSet = Default() })
	return defaultSet
}
