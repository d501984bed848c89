package verdicttable

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// TestExactTableMatchesMap drives the table and a Go map with the same
// random puts and deletes over a small key space (so slots are reused,
// tombstoned and rehashed often) and compares them after every step.
func TestExactTableMatchesMap(t *testing.T) {
	for _, named := range []bool{false, true} {
		tab := newExactTable(42, named)
		want := map[exactKey]entry{}
		rng := rand.New(rand.NewPCG(1, 2))
		for step := range 200_000 {
			k := exactKey{uint64(rng.IntN(3)), uint64(rng.IntN(5000))}
			if rng.IntN(3) == 0 {
				old, existed := tab.del(k)
				w, wexisted := want[k]
				if existed != wexisted || old != w {
					t.Fatalf("step %d: del(%v) = %v, %v; want %v, %v", step, k, old, existed, w, wexisted)
				}
				delete(want, k)
			} else {
				e := entry{exp: int64(step), at: int64(k.lo), score: float64(step) / 3, extra: extraRef(step), action: uint8(step % 5), origin: uint8(step % 3), wouldBe: uint8(step % 4), stale: step%2 == 0}
				old, existed := tab.put(k, "name", e)
				w, wexisted := want[k]
				if existed != wexisted || old != w {
					t.Fatalf("step %d: put(%v) replaced %v, %v; want %v, %v", step, k, old, existed, w, wexisted)
				}
				want[k] = e
			}
			if got, ok := tab.get(k); ok != (want[k] != entry{}) || got != want[k] {
				t.Fatalf("step %d: get(%v) = %v, %v; want %v", step, k, got, ok, want[k])
			}
		}
		n := 0
		var buf []keyedEntry
		for i := range tab.shards {
			buf = tab.appendShard(buf[:0], i)
			for _, x := range buf {
				n++
				if want[x.k] != x.e {
					t.Fatalf("appendShard: %v = %v, want %v", x.k, x.e, want[x.k])
				}
				if named && x.name != "name" {
					t.Fatalf("appendShard: %v named %q", x.k, x.name)
				}
			}
		}
		if n != len(want) {
			t.Fatalf("appendShard listed %d entries, want %d", n, len(want))
		}
		// Remove every even exp; the rest stay findable.
		removed := 0
		for i := range tab.shards {
			removed += tab.removeShardIf(i, 0, 1, func(e *entry) bool { return e.exp%2 == 0 }, func(entry) {})
		}
		for k, e := range want {
			got, ok := tab.get(k)
			if e.exp%2 == 0 {
				if ok {
					t.Fatalf("removeShardIf kept %v", k)
				}
				removed--
				continue
			}
			if !ok || got != e {
				t.Fatalf("after removeShardIf: get(%v) = %v, %v; want %v", k, got, ok, e)
			}
		}
		if removed != 0 {
			t.Fatalf("removeShardIf reported %d more removals than it made", removed)
		}
	}
}

// TestExactTableReadersSeeWholeEntries is for -race and for the sequence
// lock: every entry the writer stores has at == exp == score, so a reader
// that returned a slot half overwritten would see them differ.
func TestExactTableReadersSeeWholeEntries(t *testing.T) {
	tab := newExactTable(7, false)
	const keys = 4096
	var stop atomic.Bool
	var wg sync.WaitGroup
	var torn atomic.Int64
	for r := range 2 {
		wg.Go(func() {
			for i := r; !stop.Load(); i++ {
				if e, ok := tab.get(exactKey{1, uint64(i % keys)}); ok {
					if e.at != e.exp || float64(e.at) != e.score {
						torn.Add(1)
					}
				}
			}
		})
	}
	for step := range 300_000 {
		k := exactKey{1, uint64(step * 7919 % keys)}
		if step%5 == 0 {
			tab.del(k)
			continue
		}
		tab.put(k, "", entry{exp: int64(step), at: int64(step), score: float64(step), action: 4})
	}
	stop.Store(true)
	wg.Wait()
	if n := torn.Load(); n > 0 {
		t.Fatalf("readers saw %d half-written entries", n)
	}
}

func BenchmarkExactGet(b *testing.B) {
	tab := newExactTable(3, false)
	for i := range 1 << 20 {
		tab.put(exactKey{0, uint64(i) * 2654435761}, "", entry{action: 4})
	}
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		j := i & 2047
		if j&1 == 1 {
			j += 1 << 21 // absent
		}
		tab.get(exactKey{0, j * 2654435761})
		i++
	}
}
