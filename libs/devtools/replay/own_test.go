package replay

import (
	"testing"
	"unsafe"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// TestOwnCoversEveryField fills every string and optional field of an event
// from a buffer, owns it, scribbles over the buffer and checks nothing
// changed: a field added to RequestEvent and forgotten in own fails here.
func TestOwnCoversEveryField(t *testing.T) {
	buf := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	ev := &eventpb.RequestEvent{}
	m := ev.ProtoReflect()
	fields := m.Descriptor().Fields()
	want := map[protoreflect.Name]protoreflect.Value{}
	for i := range fields.Len() {
		fd := fields.Get(i)
		var v protoreflect.Value
		switch fd.Kind() {
		case protoreflect.StringKind:
			v = protoreflect.ValueOfString(unsafeString(buf[i%10 : i%10+8]))
		case protoreflect.DoubleKind:
			v = protoreflect.ValueOfFloat64(1.5)
		case protoreflect.Uint32Kind:
			v = protoreflect.ValueOfUint32(7)
		case protoreflect.BoolKind:
			v = protoreflect.ValueOfBool(true)
		default:
			continue
		}
		m.Set(fd, v)
		if fd.Kind() == protoreflect.StringKind {
			want[fd.Name()] = protoreflect.ValueOfString(string([]byte(v.String())))
		} else {
			want[fd.Name()] = v
		}
	}
	var a arena
	var o optionals
	own(ev, &a, &o)
	for i := range buf {
		buf[i] = '#'
	}
	for i := range fields.Len() {
		fd := fields.Get(i)
		w, ok := want[fd.Name()]
		if !ok {
			continue
		}
		if got := m.Get(fd); !got.Equal(w) {
			t.Errorf("field %s = %v after the line changed, want %v: own does not copy it", fd.Name(), got, w)
		}
	}
}

// unsafeString builds a string that aliases b, as a parser's strings do.
func unsafeString(b []byte) string { return unsafe.String(&b[0], len(b)) }
