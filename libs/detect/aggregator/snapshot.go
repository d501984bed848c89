package aggregator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"unsafe"

	"google.golang.org/protobuf/proto"

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
//
// A nil value deletes the key (a tombstone in the topic).
//
// State values are the states' memory as bytes, prefixed by a fingerprint of
// their Go layout. Writing them by hand rather than with encoding/binary or
// protobuf is for speed: a snapshot copies hundreds of thousands of states a
// second, and the states are flat structs of fixed-size integers. The
// fingerprint makes a build with a different layout (or byte order) refuse
// old state (ErrIncompatibleState) instead of misreading it.
const (
	recMeta    = 'M'
	recIP      = 'i'
	recSession = 's'
	recNet     = 'n'
	recHot     = 'h'
)

// ErrIncompatibleState is returned by Load for a record written by a build
// whose state layout differs; the caller drops it and the subject starts fresh.
var ErrIncompatibleState = errors.New("incompatible aggregator state record")

var (
	sizeofIP      = unsafe.Sizeof(ipState{})
	sizeofSession = unsafe.Sizeof(sessionState{})
	sizeofNet     = unsafe.Sizeof(netState{})
	layout        = fingerprint(reflect.TypeFor[ipState](), reflect.TypeFor[sessionState](), reflect.TypeFor[netState]())
)

// fingerprint hashes the names, offsets, sizes and kinds of every field, and
// the byte order, of the state types.
func fingerprint(ts ...reflect.Type) uint64 {
	h := fnv.New64a()
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		fmt.Fprintf(h, "%s:%d:%d;", t.Kind(), t.Size(), t.Align())
		switch t.Kind() {
		case reflect.Struct:
			for i := range t.NumField() {
				f := t.Field(i)
				fmt.Fprintf(h, "%s@%d:", f.Name, f.Offset)
				walk(f.Type)
			}
		case reflect.Array:
			fmt.Fprintf(h, "[%d]", t.Len())
			walk(t.Elem())
		}
	}
	for _, t := range ts {
		walk(t)
	}
	var one uint16 = 1
	fmt.Fprintf(h, "le=%d", *(*byte)(unsafe.Pointer(&one)))
	return h.Sum64()
}

func rawBytes[S any](s *S) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(s)), unsafe.Sizeof(*s))
}

func encodeState[S any](s *S) []byte {
	raw := rawBytes(s)
	out := make([]byte, 8+len(raw))
	binary.LittleEndian.PutUint64(out, layout)
	copy(out[8:], raw)
	return out
}

func decodeState[S any](v []byte, s *S) error {
	raw := rawBytes(s)
	if len(v) != 8+len(raw) || binary.LittleEndian.Uint64(v) != layout {
		return ErrIncompatibleState
	}
	copy(raw, v[8:])
	return nil
}

// TrackChanges makes the engine remember which states changed, for Changes.
// Call it before the first Process.
func (e *Engine) TrackChanges() {
	e.ips.track, e.sessions.track, e.nets.track = true, true, true
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
	put([]byte{recMeta}, e.metaRecord())
}

func hotRecordKey(k hotKey) []byte {
	return append([]byte{recHot, byte(k.kind)}, k.k[:]...)
}

func (e *Engine) metaRecord() []byte {
	b := binary.LittleEndian.AppendUint64(nil, layout)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.maxTime))
	return binary.LittleEndian.AppendUint64(b, uint64(e.tickSlot))
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
		if len(value) != 24 || binary.LittleEndian.Uint64(value) != layout {
			return ErrIncompatibleState
		}
		e.maxTime = int64(binary.LittleEndian.Uint64(value[8:]))
		e.tickSlot = int64(binary.LittleEndian.Uint64(value[16:]))
		return nil
	case recIP, recNet:
		if len(key) != 17 {
			return fmt.Errorf("%w: key length %d", ErrIncompatibleState, len(key))
		}
		k := addrKey(key[1:])
		if key[0] == recIP {
			return loadInto(e.ips, k, value)
		}
		return loadInto(e.nets, k, value)
	case recSession:
		if len(key) != 9 {
			return fmt.Errorf("%w: key length %d", ErrIncompatibleState, len(key))
		}
		return loadInto(e.sessions, binary.LittleEndian.Uint64(key[1:]), value)
	case recHot:
		if len(key) != 18 {
			return fmt.Errorf("%w: key length %d", ErrIncompatibleState, len(key))
		}
		k := hotKey{kind: subject.Kind(key[1]), k: [16]byte(key[2:])}
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

func loadInto[K comparable, S any](t *table[K, S], k K, value []byte) error {
	if value == nil {
		t.delQuiet(k)
		return nil
	}
	var s S
	if err := decodeState(value, &s); err != nil {
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
	e.maxTime, e.tickSlot = 0, 0
}
