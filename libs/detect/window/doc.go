// Package window holds the compact event-time building blocks of the
// aggregator's per-subject state: rings of fixed-size buckets that slide with
// event time, and small bitmaps that estimate distinct counts over a window.
//
// Everything here is a plain value (arrays, no pointers), so a subject's whole
// state is one flat struct: no per-event allocation, nothing for the garbage
// collector to scan, and a state can be copied to and from a snapshot as bytes.
//
// A ring of n buckets of width w covers the window (now-n*w, now] in slots of
// w: bucket i holds the slot s with s mod n == i. The ring does not store which
// slot each bucket holds; the owner keeps the time of the last event it added
// (the ring's "head"), and every bucket newer than head-n slots is live. Moving
// the head forward clears the buckets the window slid past. Values count up and
// saturate at the type's maximum instead of wrapping.
package window
