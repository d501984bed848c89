package aggregator

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// The state records' format (schemas/proto/bulwark/v1/aggregator_state.proto,
// message SubjectState): every field of a state struct by name, so that a
// release reads the records of the releases before and after it, and a
// rolling upgrade keeps every subject's windows.
//
// The records are written with protowire from a plan made once per type by
// reflection (name, offset, kind and length of every leaf field), not through
// generated message types: a snapshot encodes hundreds of thousands of states
// a second, and going through a message would allocate one per field. The
// generated eventpb.SubjectState reads the same bytes (tested).
const stateFormat = 2

// Field numbers of SubjectState and StateField.
const (
	fieldFormat   protowire.Number = 1
	fieldFields   protowire.Number = 2
	fieldName     protowire.Number = 1
	fieldUnsigned protowire.Number = 2
	fieldSigned   protowire.Number = 3
	fieldFloat    protowire.Number = 4
)

// leaf is one scalar or array-of-scalars field of a state struct.
type leaf struct {
	name string       // path: "behaviour.sec"
	off  uintptr      // offset in the struct
	kind reflect.Kind // of the scalar
	size uintptr      // of one scalar
	n    int          // scalars (1, or the flattened array length)
	head []byte       // the StateField's name and value-list tag, encoded once
}

type statePlan struct {
	leaves []leaf
	byName map[string]int
	maxLen int // an upper bound of a record's size, to allocate it once
}

var plans sync.Map // reflect.Type -> *statePlan

func planOf(t reflect.Type) *statePlan {
	if p, ok := plans.Load(t); ok {
		return p.(*statePlan)
	}
	p := &statePlan{byName: map[string]int{}}
	var walk func(t reflect.Type, prefix string, off uintptr)
	walk = func(t reflect.Type, prefix string, off uintptr) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("state")
			if name == "" {
				name = snake(f.Name)
			}
			if prefix != "" {
				name = prefix + "." + name
			}
			ft, n := f.Type, 1
			for ft.Kind() == reflect.Array {
				n *= ft.Len()
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if n != 1 {
					panic(fmt.Sprintf("aggregator state: %s is an array of structs", name))
				}
				walk(ft, name, off+f.Offset)
				continue
			}
			switch ft.Kind() {
			case reflect.Bool, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
				reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
			default:
				panic(fmt.Sprintf("aggregator state: %s has kind %s", name, ft.Kind()))
			}
			l := leaf{name: name, off: off + f.Offset, kind: ft.Kind(), size: ft.Size(), n: n}
			l.head = protowire.AppendString(protowire.AppendTag(nil, fieldName, protowire.BytesType), name)
			l.head = protowire.AppendTag(l.head, l.valueField(), protowire.BytesType)
			p.byName[name] = len(p.leaves)
			p.leaves = append(p.leaves, l)
			p.maxLen += 4 + len(name) + 4 + 10*n
		}
	}
	walk(t, "", 0)
	actual, _ := plans.LoadOrStore(t, p)
	return actual.(*statePlan)
}

// snake turns a Go field name into the record's name: "IATMean" -> "iat_mean".
func snake(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		if unicode.IsUpper(c) {
			if i > 0 && (unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) {
				b.WriteByte('_')
			}
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// scalar reads the i-th scalar of l in the struct at base as uint64 bits
// (sign-extended for signed kinds, float64 bits for floats).
func (l *leaf) scalar(base unsafe.Pointer, i int) uint64 {
	p := unsafe.Add(base, l.off+uintptr(i)*l.size)
	switch l.kind {
	case reflect.Bool:
		if *(*bool)(p) {
			return 1
		}
		return 0
	case reflect.Uint8:
		return uint64(*(*uint8)(p))
	case reflect.Uint16:
		return uint64(*(*uint16)(p))
	case reflect.Uint32:
		return uint64(*(*uint32)(p))
	case reflect.Uint64:
		return *(*uint64)(p)
	case reflect.Int8:
		return uint64(int64(*(*int8)(p)))
	case reflect.Int16:
		return uint64(int64(*(*int16)(p)))
	case reflect.Int32:
		return uint64(int64(*(*int32)(p)))
	case reflect.Int64:
		return uint64(*(*int64)(p))
	case reflect.Float32:
		return math.Float64bits(float64(*(*float32)(p)))
	default: // Float64
		return math.Float64bits(*(*float64)(p))
	}
}

func (l *leaf) setScalar(base unsafe.Pointer, i int, v uint64) {
	p := unsafe.Add(base, l.off+uintptr(i)*l.size)
	switch l.kind {
	case reflect.Bool:
		*(*bool)(p) = v != 0
	case reflect.Uint8:
		*(*uint8)(p) = uint8(v)
	case reflect.Uint16:
		*(*uint16)(p) = uint16(v)
	case reflect.Uint32:
		*(*uint32)(p) = uint32(v)
	case reflect.Uint64:
		*(*uint64)(p) = v
	case reflect.Int8:
		*(*int8)(p) = int8(int64(v))
	case reflect.Int16:
		*(*int16)(p) = int16(int64(v))
	case reflect.Int32:
		*(*int32)(p) = int32(int64(v))
	case reflect.Int64:
		*(*int64)(p) = int64(v)
	case reflect.Float32:
		*(*float32)(p) = float32(math.Float64frombits(v))
	default:
		*(*float64)(p) = math.Float64frombits(v)
	}
}

func (l *leaf) valueField() protowire.Number {
	switch l.kind {
	case reflect.Float32, reflect.Float64:
		return fieldFloat
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fieldSigned
	}
	return fieldUnsigned
}

// appendState appends the SubjectState record of the struct at base.
func appendState(b []byte, p *statePlan, base unsafe.Pointer) []byte {
	if b == nil {
		b = make([]byte, 0, 64+p.maxLen/4) // most fields are small or zero
	}
	b = protowire.AppendTag(b, fieldFormat, protowire.VarintType)
	b = protowire.AppendVarint(b, stateFormat)
	var scratch [512]byte
	vals := scratch[:0]
	for i := range p.leaves {
		l := &p.leaves[i]
		mem := unsafe.Slice((*byte)(unsafe.Add(base, l.off)), uintptr(l.n)*l.size)
		if allZero(mem) {
			continue
		}
		vals = appendValues(vals[:0], l, base)
		b = protowire.AppendTag(b, fieldFields, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(len(l.head)+protowire.SizeBytes(len(vals))))
		b = append(b, l.head...)
		b = protowire.AppendBytes(b, vals)
	}
	return b
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if *(*uint64)(unsafe.Pointer(&b[0])) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// appendValues appends l's scalars packed as their StateField list; the
// common kinds of the state structs have their own loops.
func appendValues(b []byte, l *leaf, base unsafe.Pointer) []byte {
	p := unsafe.Add(base, l.off)
	switch l.kind {
	case reflect.Uint8:
		for _, v := range unsafe.Slice((*uint8)(p), l.n) {
			b = protowire.AppendVarint(b, uint64(v))
		}
	case reflect.Uint16:
		for _, v := range unsafe.Slice((*uint16)(p), l.n) {
			b = protowire.AppendVarint(b, uint64(v))
		}
	case reflect.Uint32:
		for _, v := range unsafe.Slice((*uint32)(p), l.n) {
			b = protowire.AppendVarint(b, uint64(v))
		}
	case reflect.Uint64:
		for _, v := range unsafe.Slice((*uint64)(p), l.n) {
			b = protowire.AppendVarint(b, v)
		}
	default:
		vf := l.valueField()
		for j := range l.n {
			v := l.scalar(base, j)
			switch vf {
			case fieldFloat:
				b = protowire.AppendFixed64(b, v)
			case fieldSigned:
				b = protowire.AppendVarint(b, protowire.EncodeZigZag(int64(v)))
			default:
				b = protowire.AppendVarint(b, v)
			}
		}
	}
	return b
}

var errStateRecord = errors.New("malformed state record")

// readFields fills the (zeroed) struct at base from a SubjectState record.
// Unknown fields and names are skipped; arrays take what both sizes hold.
func readFields(v []byte, p *statePlan, base unsafe.Pointer) error {
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return errStateRecord
		}
		v = v[n:]
		if num != fieldFields || typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, v)
			if n < 0 {
				return errStateRecord
			}
			v = v[n:]
			continue
		}
		msg, n := protowire.ConsumeBytes(v)
		if n < 0 {
			return errStateRecord
		}
		v = v[n:]
		if err := readField(msg, p, base); err != nil {
			return err
		}
	}
	return nil
}

func readField(msg []byte, p *statePlan, base unsafe.Pointer) error {
	var l *leaf
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return errStateRecord
		}
		msg = msg[n:]
		if num == fieldName && typ == protowire.BytesType {
			name, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return errStateRecord
			}
			msg = msg[n:]
			if i, ok := p.byName[string(name)]; ok {
				l = &p.leaves[i]
			}
			continue
		}
		if l == nil || typ != protowire.BytesType || num != l.valueField() {
			// The name comes first when written by appendState; a field
			// whose name is unknown (or whose type changed) is skipped.
			n = protowire.ConsumeFieldValue(num, typ, msg)
			if n < 0 {
				return errStateRecord
			}
			msg = msg[n:]
			continue
		}
		packed, n := protowire.ConsumeBytes(msg)
		if n < 0 {
			return errStateRecord
		}
		msg = msg[n:]
		for j := 0; len(packed) > 0; j++ {
			var x uint64
			if num == fieldFloat {
				x, n = protowire.ConsumeFixed64(packed)
			} else {
				x, n = protowire.ConsumeVarint(packed)
				if num == fieldSigned {
					x = uint64(protowire.DecodeZigZag(x))
				}
			}
			if n < 0 {
				return errStateRecord
			}
			packed = packed[n:]
			if j < l.n {
				l.setScalar(base, j, x)
			}
		}
	}
	return nil
}
