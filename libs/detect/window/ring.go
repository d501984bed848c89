package window

// Counter is a bucket type of a ring.
type Counter interface {
	~uint8 | ~uint16 | ~uint32
}

// Slot is the bucket number of time t (Unix nanoseconds) for width w.
func Slot(t, w int64) int64 {
	if t < 0 {
		return (t - w + 1) / w
	}
	return t / w
}

// Slide clears the buckets of b that leave the window when the head moves
// from slot last to slot now. It does nothing when now <= last.
func Slide[T Counter](b []T, last, now int64) {
	d := now - last
	if d <= 0 {
		return
	}
	n := int64(len(b))
	if d >= n {
		clear(b)
		return
	}
	for s := last + 1; s <= now; s++ {
		b[s%n] = 0
	}
}

// Add adds v to the bucket of slot s of a ring whose head is at slot head
// (after Slide). A slot in the future of head or older than the window is
// ignored: callers slide the head first, and too-old slots are closed.
func Add[T Counter](b []T, head, s int64, v T) bool {
	n := int64(len(b))
	if s > head || s <= head-n || s < 0 {
		return false
	}
	i := s % n
	sum := b[i] + v
	if sum < b[i] { // saturate rather than wrap
		var max T
		sum = ^max
	}
	b[i] = sum
	return true
}

// Sum returns the total of the buckets still inside the window at slot now,
// for a ring whose head is at slot head. Buckets at or before now-len(b) have
// left the window even if the head has not moved yet.
func Sum[T Counter](b []T, head, now int64) uint64 {
	n := int64(len(b))
	if now-head >= n {
		return 0
	}
	var sum uint64
	lo := max(now-n+1, head-n+1, 0)
	for s := lo; s <= head; s++ {
		sum += uint64(b[s%n])
	}
	return sum
}

// Max returns the largest bucket inside the window at slot now.
func Max[T Counter](b []T, head, now int64) uint64 {
	n := int64(len(b))
	if now-head >= n {
		return 0
	}
	var m uint64
	lo := max(now-n+1, head-n+1, 0)
	for s := lo; s <= head; s++ {
		m = max(m, uint64(b[s%n]))
	}
	return m
}

// Or sets the bits v in the bucket of slot s (see Add for which slots
// count): a ring of bit sets, e.g. which kinds of event a minute saw.
func Or[T Counter](b []T, head, s int64, v T) bool {
	n := int64(len(b))
	if s > head || s <= head-n || s < 0 {
		return false
	}
	b[s%n] |= v
	return true
}

// OrAll returns the union of the buckets inside the window at slot now.
func OrAll[T Counter](b []T, head, now int64) uint64 {
	n := int64(len(b))
	if now-head >= n {
		return 0
	}
	var m uint64
	lo := max(now-n+1, head-n+1, 0)
	for s := lo; s <= head; s++ {
		m |= uint64(b[s%n])
	}
	return m
}
