package model

import (
	"fmt"
	"math"
	"sync/atomic"
)

// Mode is how the aggregator uses a model's probability.
type Mode uint8

const (
	// Shadow records the model's probability on every score (model_score)
	// and changes nothing: the way to compare a model with the rules on
	// live traffic before trusting it.
	Shadow Mode = iota
	// Blend adds the model as one more signal to the rule score, worth
	// Weight*100 points at probability 1, combined as noisy-OR like every
	// rule signal (scoring.Scorer): it can raise a score, never lower it.
	Blend
	// Replace scores with the model alone: score = probability*100.
	Replace
)

var modeNames = [...]string{"shadow", "blend", "replace"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "unknown"
}

// ParseMode parses "shadow", "blend" or "replace".
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("model mode %q: want shadow, blend or replace", s)
}

// Active is a model in force with its mode and weight.
type Active struct {
	Model  *Model
	Mode   Mode
	Weight float64 // blend only: 0..1
	label  string  // "<id>/<mode>", for Score.model
}

// NewActive returns m in force with mode and weight (checked: 0..1).
func NewActive(m *Model, mode Mode, weight float64) (*Active, error) {
	if math.IsNaN(weight) || weight < 0 || weight > 1 {
		return nil, fmt.Errorf("model weight %v: want 0..1", weight)
	}
	if mode > Replace {
		return nil, fmt.Errorf("model mode %d unknown", mode)
	}
	return &Active{Model: m, Mode: mode, Weight: weight, label: m.ID() + "/" + mode.String()}, nil
}

// Label is "<model id>/<mode>".
func (a *Active) Label() string { return a.label }

// Combine returns the score (0..100, rounded to 0.1 like the rule scorer's)
// for a rule score and the model's probability p.
func (a *Active) Combine(rule, p float64) float64 {
	switch a.Mode {
	case Blend:
		return math.Round((1-(1-rule/100)*(1-a.Weight*p))*1000) / 10
	case Replace:
		return math.Round(p*1000) / 10
	}
	return rule
}

// Points is how many score points the model adds to rule (what the model
// is worth in this score): a reason names it only when it is worth as much
// as a rule reason.
func (a *Active) Points(rule, p float64) float64 {
	return a.Combine(rule, p) - rule
}

// Holder holds the model in force (nil: none); a reloader stores a new
// one, engines load it for every score (one atomic load).
type Holder struct{ p atomic.Pointer[Active] }

// NewHolder returns a Holder of a (which may be nil).
func NewHolder(a *Active) *Holder {
	h := &Holder{}
	h.p.Store(a)
	return h
}

// Load returns the model in force, or nil.
func (h *Holder) Load() *Active { return h.p.Load() }

// Store puts a in force (nil: no model).
func (h *Holder) Store(a *Active) { h.p.Store(a) }
