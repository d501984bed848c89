package verdicttable

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// The exact-match maps must hold no pointers, or the garbage collector scans
// every entry of a full table on each cycle.
func TestEntryHasNoPointers(t *testing.T) {
	typ := reflect.TypeFor[entry]()
	for i := range typ.NumField() {
		switch f := typ.Field(i); f.Type.Kind() {
		case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func, reflect.Struct, reflect.UnsafePointer:
			t.Errorf("entry.%s is a %s", f.Name, f.Type.Kind())
		}
	}
}

func TestExtrasAreReleased(t *testing.T) {
	tab := New()
	now := time.Now()
	v := func(rule string, exp time.Duration) *eventpb.Verdict {
		out := &eventpb.Verdict{Action: eventpb.Action_BLOCK, Rule: rule, Reasons: []string{"r1", rule}}
		if exp != 0 {
			out.ExpiresAtUnixNano = now.Add(exp).UnixNano()
		}
		return out
	}
	for _, k := range []string{"ip:192.0.2.1", "ip:2001:db8::1", "session:s", "net:198.51.100.0/24"} {
		_ = tab.Apply(k, v("a", 0))
		_ = tab.Apply(k, v("b", 0)) // overwrite releases "a"
	}
	_ = tab.Apply("ip:192.0.2.2", v("b", 0))
	_ = tab.Apply("ip:192.0.2.3", v("c", time.Minute))
	_ = tab.Apply("net:10.0.0.0/8", v("c", time.Minute))
	if got := len(tab.extras.ids); got != 2 {
		t.Fatalf("%d distinct extras interned, want 2 (b, c)", got)
	}
	old := tab.Lookup(mustAddr("192.0.2.3"), "", now)
	for _, k := range []string{"ip:192.0.2.1", "ip:2001:db8::1", "session:s", "net:198.51.100.0/24", "ip:192.0.2.2"} {
		_ = tab.Apply(k, nil)
	}
	tab.Sweep(now.Add(time.Hour))
	if got := len(tab.extras.ids); got != 0 || tab.Len() != 0 {
		t.Fatalf("after removing everything: %d extras, %d entries", got, tab.Len())
	}
	// A slot reused for another string is not read through a stale reference.
	_ = tab.Apply("ip:192.0.2.9", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Rule: "other"})
	if got := old.Verdict(); got.Rule != "" || len(got.Reasons) != 0 {
		t.Fatalf("stale reference read %q %q", got.Rule, got.Reasons)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
