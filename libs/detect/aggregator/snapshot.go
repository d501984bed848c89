package aggregator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// State records. The engine's state is a set of key/value records, one per
// subject plus one for the engine itself, so that it can live in a compacted
// Kafka topic and be written incrementally (only what changed):
//
//	key "M"                 engine: watermark, minute of the last tick
//	key "i" + 16-byte addr  ip: state
//	key "s" + 8-byte hash   session: state
//	key "n" + 16-byte addr  net: state
//	key "h" + kind + 16     the last trigger of a hot subject (protobuf)
//	key "g"                 the site's requests by country and AS number
//	key "a", "l"            attack mode's detector and long windows (attackstate.go)
//
// A nil value deletes the key (a tombstone in the topic).
//
// State values are SubjectState records (stateformat.go): every field by
// name, so that releases read each other's records; format-1 records (raw
// memory, state_v1.go) are still read.
const (
	recMeta    = 'M'
	recIP      = 'i'
	recSession = 's'
	recNet     = 'n'
	recHot     = 'h'
	recSite    = 'g'
)

// ErrIncompatibleState is returned by Load for a record it cannot read (a
// malformed key or value); the caller drops it and the subject starts fresh.
var ErrIncompatibleState = errors.New("incompatible aggregator state record")

// engineMeta is the engine's own record.
type engineMeta struct {
	Watermark int64 `state:"watermark"`
	TickSlot  int64 `state:"tick_slot"`
	// SitePublished is the newest site-wide attack record written (in
	// partition 0's state; sitefold.go).
	SitePublished int64 `state:"site_published"`
}

func encodeState[S any](s *S) []byte {
	return appendState(nil, planOf(reflect.TypeFor[S]()), unsafe.Pointer(s))
}

// decodeState reads a record into s (zeroed first); v1 converts a format-1
// record of s's kind.
func decodeState[S any](v []byte, s *S, v1 func([]byte) ([]byte, bool)) error {
	if conv, ok := v1(v); ok {
		v = conv
	}
	var zero S
	*s = zero
	if err := readFields(v, planOf(reflect.TypeFor[S]()), unsafe.Pointer(s)); err != nil {
		return fmt.Errorf("%w: %v", ErrIncompatibleState, err)
	}
	return nil
}

// TrackChanges makes the engine remember which states changed, for Changes.
// Call it before the first Process.
func (e *Engine) TrackChanges() {
	e.ips.track, e.sessions.track, e.nets.track = true, true, true
	if e.attack != nil {
		e.attack.longDirty = map[addrKey]struct{}{}
	}
}

// Changes calls put with every record changed since the last call (a nil
// value for a deleted one), and the engine record. Key and value are fresh
// slices the callee may keep.
func (e *Engine) Changes(put func(key, value []byte)) {
	e.ips.changes(func(k addrKey, s *ipState) {
		put(append([]byte{recIP}, k[:]...), encodeState(s))
	}, func(k addrKey) { put(append([]byte{recIP}, k[:]...), nil) })
	e.sessions.changes(func(k uint64, s *sessionState) {
		put(binary.LittleEndian.AppendUint64([]byte{recSession}, k), encodeState(s))
	}, func(k uint64) { put(binary.LittleEndian.AppendUint64([]byte{recSession}, k), nil) })
	e.nets.changes(func(k addrKey, s *netState) {
		put(append([]byte{recNet}, k[:]...), encodeState(s))
	}, func(k addrKey) { put(append([]byte{recNet}, k[:]...), nil) })
	for k := range e.hot {
		if _, ok := e.hotDirty[k]; !ok {
			continue
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(e.hot[k])
		if err == nil {
			put(hotRecordKey(k), b)
		}
	}
	for k := range e.hotDirty {
		if _, ok := e.hot[k]; !ok {
			put(hotRecordKey(k), nil)
		}
	}
	clear(e.hotDirty)
	if e.siteDirty {
		put([]byte{recSite}, encodeState(&e.site))
		e.siteDirty = false
	}
	e.attackChanges(put)
	put([]byte{recMeta}, e.metaRecord())
}

func hotRecordKey(k hotKey) []byte {
	return append([]byte{recHot, byte(k.kind)}, k.key[:]...)
}

func (e *Engine) metaRecord() []byte {
	return encodeState(&engineMeta{Watermark: e.maxTime, TickSlot: e.tickSlot, SitePublished: e.sitePublished})
}

// Load restores one record written by Changes (a nil value deletes). Records
// of one key must be loaded in the order they were written; a compacted
// topic read from its start does that.
func (e *Engine) Load(key, value []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("%w: empty key", ErrIncompatibleState)
	}
	switch key[0] {
	case recMeta:
		if value == nil {
			return nil
		}
		var m engineMeta
		if err := decodeState(value, &m, metaV1); err != nil {
			return err
		}
		e.maxTime, e.tickSlot, e.sitePublished = m.Watermark, m.TickSlot, m.SitePublished
		return nil
	case recSite:
		if value == nil {
			e.site = features.Site{}
			return nil
		}
		// Format 2 only: the record is newer than format 1.
		return decodeState(value, &e.site, func([]byte) ([]byte, bool) { return nil, false })
	case recIP, recNet:
		if len(key) != 17 {
			return fmt.Errorf("%w: key length %d", ErrIncompatibleState, len(key))
		}
		k := addrKey(key[1:])
		if key[0] == recIP {
			return loadInto(e.ips, k, value, fromV1[v1IPState])
		}
		return loadInto(e.nets, k, value, fromV1[v1NetState])
	case recSession:
		if len(key) != 9 {
			return fmt.Errorf("%w: key length %d", ErrIncompatibleState, len(key))
		}
		return loadInto(e.sessions, binary.LittleEndian.Uint64(key[1:]), value, fromV1[v1SessionState])
	case recAttack, recLong:
		return e.loadAttack(key, value)
	case recHot:
		if len(key) != 18 {
			return fmt.Errorf("%w: key length %d", ErrIncompatibleState, len(key))
		}
		k := hotKey{kind: subject.Kind(key[1]), key: [16]byte(key[2:])}
		if value == nil {
			delete(e.hot, k)
			return nil
		}
		ev := &eventpb.RequestEvent{}
		if err := proto.Unmarshal(value, ev); err != nil {
			return fmt.Errorf("%w: hot subject trigger: %v", ErrIncompatibleState, err)
		}
		e.hot[k] = ev
		return nil
	}
	return fmt.Errorf("%w: key kind %q", ErrIncompatibleState, key[0])
}

func loadInto[K comparable, S any](t *table[K, S], k K, value []byte, v1 func([]byte) ([]byte, bool)) error {
	if value == nil {
		t.delQuiet(k)
		return nil
	}
	var s S
	if err := decodeState(value, &s, v1); err != nil {
		return err
	}
	p, _ := t.get(k)
	*p = s
	return nil
}

// Reset drops all state, as for a fresh engine (used before reloading).
func (e *Engine) Reset() {
	track := e.ips.track
	e.ips, e.sessions, e.nets = newTable[addrKey, ipState](), newTable[uint64, sessionState](), newTable[addrKey, netState]()
	e.ips.track, e.sessions.track, e.nets.track = track, track, track
	clear(e.hot)
	clear(e.hotDirty)
	e.maxTime, e.tickSlot, e.sitePublished = 0, 0, 0
	e.site, e.siteDirty = features.Site{}, false
	e.attack = newSiteMode(e.opt.attacks, e.opt.fold)
	if track && e.attack != nil {
		e.attack.longDirty = map[addrKey]struct{}{}
	}
}
