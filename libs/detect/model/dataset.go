package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
)

// Dataset is a training set: one row per sample of a subject at a point of
// its life. Rows are added in event-time order per subject; Split orders
// them by time.
type Dataset struct {
	X     []features.Vector
	Y     []bool    // true: bot
	W     []float64 // sample weight (see Weigh)
	T     []int64   // event time, Unix ns
	Subj  []uint64  // subject key (any stable hash)
	Group []uint16  // index into Groups: the label's kind, for per-kind figures
	Rule  []float64 // the rule scorer's score 0..100 of the same sample
	// Groups names the groups (kinds) rows belong to.
	Groups []string
	group  map[string]uint16
}

// Add appends a sample.
func (d *Dataset) Add(v *features.Vector, bot bool, t int64, subj uint64, group string, rule float64) {
	if d.group == nil {
		d.group = map[string]uint16{}
		for i, g := range d.Groups {
			d.group[g] = uint16(i)
		}
	}
	g, ok := d.group[group]
	if !ok {
		g = uint16(len(d.Groups))
		d.Groups = append(d.Groups, group)
		d.group[group] = g
	}
	d.X = append(d.X, *v)
	d.Y = append(d.Y, bot)
	d.W = append(d.W, 1)
	d.T = append(d.T, t)
	d.Subj = append(d.Subj, subj)
	d.Group = append(d.Group, g)
	d.Rule = append(d.Rule, rule)
}

// Len is the number of samples.
func (d *Dataset) Len() int { return len(d.Y) }

// Weigh sets the sample weights so that no subject weighs more than
// perSubject samples in total: a long-lived subject (or one an attacker
// drives to poison the model) counts as at most perSubject samples. A
// person's samples then weigh human times more: a person is scored again
// and again, and flagging one at any moment is a false positive, so the
// model must be surer of people than of bots.
func (d *Dataset) Weigh(perSubject int, human float64) {
	n := map[uint64]int{}
	for _, s := range d.Subj {
		n[s]++
	}
	for i, s := range d.Subj {
		d.W[i] = math.Min(1, float64(perSubject)/float64(n[s]))
		if !d.Y[i] {
			d.W[i] *= human
		}
	}
}

// Digest is the SHA-256 of the samples (values, presence, labels, weights,
// times, in row order): two runs with the same input and flags give the
// same digest.
func (d *Dataset) Digest() string {
	h := sha256.New()
	var b [8]byte
	put := func(x uint64) {
		binary.LittleEndian.PutUint64(b[:], x)
		h.Write(b[:])
	}
	for i := range d.Y {
		x := &d.X[i]
		put(x.Has)
		for id := range features.NumFeatures {
			if x.Has&(1<<uint(id)) != 0 {
				put(math.Float64bits(x.V[id]))
			}
		}
		if d.Y[i] {
			put(1)
		} else {
			put(0)
		}
		put(math.Float64bits(d.W[i]))
		put(uint64(d.T[i]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Subjects is the number of distinct subjects.
func (d *Dataset) Subjects() int {
	s := map[uint64]struct{}{}
	for _, k := range d.Subj {
		s[k] = struct{}{}
	}
	return len(s)
}

// Split returns the rows before and from time cut.
func (d *Dataset) Split(cut int64) (train, test []int) {
	for i, t := range d.T {
		if t < cut {
			train = append(train, i)
		} else {
			test = append(test, i)
		}
	}
	return train, test
}

// TimeQuantile returns the event time below which share of the samples lie.
func (d *Dataset) TimeQuantile(share float64) int64 {
	if len(d.T) == 0 {
		return 0
	}
	ts := append([]int64(nil), d.T...)
	sortInt64(ts)
	i := int(share * float64(len(ts)))
	i = min(max(i, 0), len(ts)-1)
	return ts[i]
}

// TestRows returns the rows from time cut on (all rows when cut is zero).
func (d *Dataset) TestRows(cut time.Time) []int {
	if cut.IsZero() {
		return nil
	}
	_, test := d.Split(cut.UnixNano())
	return test
}
