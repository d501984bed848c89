package window

import (
	"fmt"
	"math"
	"testing"
)

func TestRing(t *testing.T) {
	// each step: slide the head to slot `at`, add v at slot `add`, then
	// check the sum and max of the window at slot `now`.
	type step struct {
		at, add int64
		v       uint8
		now     int64
		sum     uint64
		max     uint64
	}
	f := func(name string, steps []step) {
		t.Helper()
		var b [4]uint8
		head := int64(0)
		for i, s := range steps {
			if s.at > head {
				Slide(b[:], head, s.at)
				head = s.at
			}
			Add(b[:], head, s.add, s.v)
			if got := Sum(b[:], head, s.now); got != s.sum {
				t.Errorf("%s step %d: sum %d, want %d", name, i, got, s.sum)
			}
			if got := Max(b[:], head, s.now); got != s.max {
				t.Errorf("%s step %d: max %d, want %d", name, i, got, s.max)
			}
		}
	}
	f("fills", []step{{1, 1, 1, 1, 1, 1}, {2, 2, 2, 2, 3, 2}, {3, 3, 3, 3, 6, 3}, {4, 4, 4, 4, 10, 4}})
	f("slides out", []step{{1, 1, 5, 1, 5, 5}, {4, 4, 1, 4, 6, 5}, {5, 5, 1, 5, 2, 1}})
	f("query later than head", []step{{1, 1, 5, 1, 5, 5}, {2, 2, 1, 4, 6, 5}, {2, 2, 0, 5, 1, 1}, {2, 2, 0, 6, 0, 0}})
	f("late add inside window", []step{{5, 5, 1, 5, 1, 1}, {5, 3, 2, 5, 3, 2}})
	f("late add outside window is dropped", []step{{9, 9, 1, 9, 1, 1}, {9, 5, 7, 9, 1, 1}})
	f("future add is dropped", []step{{1, 1, 1, 1, 1, 1}, {1, 2, 1, 1, 1, 1}})
	f("saturates", []step{{1, 1, 200, 1, 200, 200}, {1, 1, 100, 1, 255, 255}})
	f("long gap clears", []step{{1, 1, 3, 1, 3, 3}, {100, 100, 1, 100, 1, 1}})
}

func TestSlot(t *testing.T) {
	f := func(t0, w, want int64) {
		t.Helper()
		if got := Slot(t0, w); got != want {
			t.Errorf("Slot(%d, %d) = %d, want %d", t0, w, got, want)
		}
	}
	f(0, 10, 0)
	f(9, 10, 0)
	f(10, 10, 1)
	f(-1, 10, -1)
}

func TestDistinct(t *testing.T) {
	f := func(name string, n int, est func(d *Distinct512) float64, lo, hi float64) {
		t.Helper()
		var d Distinct512
		for i := 0; i < n; i++ {
			d.Add(hash(i), 10, 10)
		}
		if got := est(&d); got < lo || got > hi {
			t.Errorf("%s: estimate %v, want %v..%v", name, got, lo, hi)
		}
	}
	now := func(d *Distinct512) float64 { return d.Estimate(10, 10) }
	f("empty", 0, now, 0, 0)
	f("one", 1, now, 1, 1)
	f("fifty", 50, now, 45, 56)
	f("two hundred", 200, now, 170, 235)
	f("next half still sees the previous", 50, func(d *Distinct512) float64 { return d.Estimate(10, 11) }, 45, 56)
	f("two halves later it is gone", 50, func(d *Distinct512) float64 { return d.Estimate(10, 12) }, 0, 0)
	f("saturates, does not overflow", 100000, now, 1000, 2000)

	var d Distinct128
	for i := 0; i < 20; i++ {
		d.Add(hash(i), 0, 0)
	}
	head := int64(0)
	for i := 20; i < 30; i++ {
		d.Add(hash(i), head, 1) // next half: union of both
		head = 1
	}
	if got := d.Estimate(1, 1); got < 25 || got > 36 {
		t.Errorf("two halves: %v, want about 30", got)
	}
	d.Slide(1, 2) // half 0 cleared; half 1 (10 items) stays
	if got := d.Estimate(2, 2); got < 8 || got > 12 {
		t.Errorf("after slide: %v, want about 10", got)
	}
	var s Distinct64
	s.Add(1, 0, 0)
	s.Add(1, 0, 0)
	if got := s.Estimate(0, 0); got != 1 {
		t.Errorf("same hash twice: %v", got)
	}
}

func hash(i int) uint64 {
	// splitmix64: well spread test hashes
	z := uint64(i)*0x9e3779b97f4a7c15 + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func BenchmarkSum(b *testing.B) {
	var r [10]uint16
	for i := range r {
		r[i] = uint16(i)
	}
	var s uint64
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s += Sum(r[:], 100, 100)
	}
	if s == math.MaxUint64 {
		b.Fatal(fmt.Sprint(s))
	}
}

func TestOr(t *testing.T) {
	var b [4]uint32
	f := func(head, s int64, v uint32, want bool) {
		t.Helper()
		if got := Or(b[:], head, s, v); got != want {
			t.Fatalf("Or(head %d, slot %d) = %v, want %v", head, s, got, want)
		}
	}
	f(10, 10, 1, true)
	f(10, 9, 4, true)
	f(10, 11, 8, false) // future
	f(10, 6, 8, false)  // left the window
	if got := OrAll(b[:], 10, 10); got != 5 {
		t.Fatalf("OrAll = %d, want 5", got)
	}
	if got := OrAll(b[:], 10, 13); got != 1 { // slot 9 left, 10 still in
		t.Fatalf("OrAll at 13 = %d, want 1", got)
	}
	if got := OrAll(b[:], 10, 14); got != 0 {
		t.Fatalf("OrAll at 14 = %d, want 0", got)
	}
	Slide(b[:], 10, 11)
	if got := OrAll(b[:], 11, 11); got != 5 {
		t.Fatalf("after slide = %d, want 5", got)
	}
}
