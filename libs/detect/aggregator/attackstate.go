package aggregator

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// State records of attack mode (see snapshot.go for the others):
//
//	key "a" + part + class + index   the site-wide detector (attacks.Detector.Changes):
//	                                 part 'M' clock and normal fingerprints, 'r' a class's
//	                                 closed minutes, 'c' its open minute, 's' its seasonal
//	                                 blocks (index: chunk of attacks.SeasonChunk), 'f' its
//	                                 fingerprint counts, 'x' its active attack (index:
//	                                 signal; protobuf Attack, nil value: none)
//	key "l" + 16-byte addr           an address's long windows (longState)
//
// Both are field-by-name records like the subjects' (stateformat.go): state
// written before they existed loads (the detector and the long windows start
// empty, as they did then), and a release that does not know them drops
// them as incompatible and goes on.
const (
	recAttack = 'a'
	recLong   = 'l'
)

const (
	partMeta    = 'M'
	partRing    = 'r'
	partCurrent = 'c'
	partSeason  = 's'
	partFPs     = 'f'
	partActive  = 'x'
)

func attackKey(part byte, c attacks.Class, i int) []byte {
	return []byte{recAttack, part, byte(c), byte(i)}
}

// attackSaver writes the detector's changed parts as state records.
type attackSaver struct{ put func(k, v []byte) }

func (s attackSaver) Meta(m *attacks.MetaState) {
	s.put(attackKey(partMeta, 0, 0), encodeState(m))
}
func (s attackSaver) Ring(c attacks.Class, r *attacks.RingState) {
	s.put(attackKey(partRing, c, 0), encodeState(r))
}
func (s attackSaver) Current(c attacks.Class, r *attacks.CurrentState) {
	s.put(attackKey(partCurrent, c, 0), encodeState(r))
}
func (s attackSaver) Season(c attacks.Class, chunk int, r *attacks.SeasonState) {
	s.put(attackKey(partSeason, c, chunk), encodeState(r))
}
func (s attackSaver) FPs(c attacks.Class, r *attacks.FPState) {
	s.put(attackKey(partFPs, c, 0), encodeState(r))
}
func (s attackSaver) Active(c attacks.Class, si int, a *eventpb.Attack) {
	if a == nil {
		s.put(attackKey(partActive, c, si), nil)
		return
	}
	if b, err := (proto.MarshalOptions{Deterministic: true}).Marshal(a); err == nil {
		s.put(attackKey(partActive, c, si), b)
	}
}

// attackChanges writes attack mode's changed state.
func (e *Engine) attackChanges(put func(k, v []byte)) {
	s := e.attack
	if s == nil {
		return
	}
	s.det.Changes(attackSaver{put})
	for k := range s.longDirty {
		key := append([]byte{recLong}, k[:]...)
		if ls := s.long[k]; ls != nil {
			put(key, encodeState(ls))
		} else {
			put(key, nil)
		}
	}
	clear(s.longDirty)
}

// noV1 is the format-1 reader of records newer than format 1.
func noV1([]byte) ([]byte, bool) { return nil, false }

// loadAttack restores one attack-mode record. Without attack mode they are
// skipped: turning it off and on again starts it afresh.
func (e *Engine) loadAttack(key, value []byte) error {
	s := e.attack
	if key[0] == recLong {
		if len(key) != 17 {
			return fmt.Errorf("%w: key length %d", ErrIncompatibleState, len(key))
		}
		if s == nil {
			return nil
		}
		k := addrKey(key[1:])
		if value == nil {
			delete(s.long, k)
			return nil
		}
		ls := &longState{}
		if err := decodeState(value, ls, noV1); err != nil {
			return err
		}
		if ls.slot < 0 {
			return fmt.Errorf("%w: long window slot %d", ErrIncompatibleState, ls.slot)
		}
		s.long[k] = ls
		return nil
	}
	if len(key) != 4 {
		return fmt.Errorf("%w: key length %d", ErrIncompatibleState, len(key))
	}
	if s == nil {
		return nil
	}
	part, c, i := key[1], attacks.Class(key[2]), int(key[3])
	if part == partActive {
		if value == nil {
			s.det.LoadActive(c, i, nil)
			return nil
		}
		a := &eventpb.Attack{}
		if err := proto.Unmarshal(value, a); err != nil {
			return fmt.Errorf("%w: active attack: %v", ErrIncompatibleState, err)
		}
		s.det.LoadActive(c, i, a)
		return nil
	}
	if value == nil {
		return nil // never written: the parts are overwritten, not deleted
	}
	switch part {
	case partMeta:
		return loadPart(value, s.det.LoadMeta)
	case partRing:
		return loadPart(value, func(r *attacks.RingState) { s.det.LoadRing(c, r) })
	case partCurrent:
		return loadPart(value, func(r *attacks.CurrentState) { s.det.LoadCurrent(c, r) })
	case partSeason:
		return loadPart(value, func(r *attacks.SeasonState) { s.det.LoadSeason(c, i, r) })
	case partFPs:
		return loadPart(value, func(r *attacks.FPState) { s.det.LoadFPs(c, r) })
	}
	return fmt.Errorf("%w: attack state part %q", ErrIncompatibleState, part)
}

func loadPart[S any](value []byte, load func(*S)) error {
	var st S
	if err := decodeState(value, &st, noV1); err != nil {
		return err
	}
	load(&st)
	return nil
}
