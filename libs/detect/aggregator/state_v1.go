package aggregator

import (
	"encoding/binary"
	"reflect"
	"unsafe"
)

// Format 1 of the state records, written by the releases before the
// field-by-name format: the raw memory of the state structs as they were then,
// prefixed by a fingerprint of their layout. The structs are frozen here, so
// that this release (and later ones) read what those releases wrote whatever
// the live structs become: a format-1 record is copied into its frozen struct
// and then read by field name like a format-2 record. Do not change these
// types; TestStateOfPreviousReleases reads records written by format 1.
type (
	v1Behaviour struct {
		Last                                              int64
		Sec                                               [10]uint16
		Ten                                               [6]uint16
		LoginFail1m                                       [6]uint8
		Post1m                                            [6]uint8
		Req, Asset, S404, RefMissing, ALLogged, ALMissing [10]uint16
		Enum, LoginFail, S429, Sensitive                  [10]uint8
		Hour                                              [6]uint32
		Paths                                             [2][4]uint64
		IATMean, IATVar                                   float32
		LastID                                            uint32
		UAHash                                            uint32
		IATN                                              uint8
		UA                                                uint8
		HasLastID                                         bool
		CDNBot                                            uint8
	}
	v1IPExtra struct {
		UAs      [2]uint32
		Sessions [2]uint32
	}
	v1Net struct {
		Last  int64
		Req   [10]uint16
		IPs   [2]uint64
		Alike [2]uint64
	}
	v1Emission struct {
		At        int64
		Score     float32
		ScoredSec uint32
	}
	v1IPState struct {
		B v1Behaviour `state:"behaviour"`
		X v1IPExtra   `state:"ip_extra"`
		E v1Emission  `state:"emission"`
	}
	v1SessionState struct {
		B v1Behaviour `state:"behaviour"`
		E v1Emission  `state:"emission"`
	}
	v1NetState struct {
		N v1Net      `state:"net"`
		E v1Emission `state:"emission"`
	}
)

// v1Layout is the fingerprint format-1 records carry (the value the
// releases computed from the then-live structs; TestV1Layout checks that the
// frozen structs give it).
const v1Layout = 0xb7d7a08c14d929df

// metaV1 reads the engine record of format 1: the fingerprint, the
// watermark and the tick slot.
func metaV1(v []byte) ([]byte, bool) {
	if len(v) != 24 || binary.LittleEndian.Uint64(v) != v1Layout {
		return nil, false
	}
	m := engineMeta{Watermark: int64(binary.LittleEndian.Uint64(v[8:])), TickSlot: int64(binary.LittleEndian.Uint64(v[16:]))}
	return encodeState(&m), true
}

// fromV1 turns a format-1 record of the frozen type V into a format-2
// record, or reports that v is not a format-1 record of V.
func fromV1[V any](v []byte) ([]byte, bool) {
	var old V
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&old)), unsafe.Sizeof(old))
	if len(v) != 8+len(raw) || binary.LittleEndian.Uint64(v) != v1Layout {
		return nil, false
	}
	copy(raw, v[8:])
	return appendState(nil, planOf(reflect.TypeFor[V]()), unsafe.Pointer(&old)), true
}
