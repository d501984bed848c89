package console

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// recent keeps the last per records of each key for the clients seen most
// recently (at most keys of them): the console's memory of a topic when
// there is no ClickHouse to ask, bounded whatever the traffic.
type recent[T any] struct {
	mu  sync.Mutex
	per int
	lru *simplelru.LRU[string, []T]
}

func newRecent[T any](keys, per int) *recent[T] {
	l, err := simplelru.NewLRU[string, []T](keys, nil)
	if err != nil {
		panic(err) // only for keys <= 0, which Config.Validate refuses
	}
	return &recent[T]{per: per, lru: l}
}

func (r *recent[T]) add(key string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, _ := r.lru.Get(key)
	if len(s) >= r.per {
		// Shift rather than reslice, so the backing array stays bounded.
		copy(s, s[1:])
		s = s[:len(s)-1]
	}
	r.lru.Add(key, append(s, v))
}

// get returns key's records, newest first.
func (r *recent[T]) get(key string) []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, _ := r.lru.Peek(key)
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
