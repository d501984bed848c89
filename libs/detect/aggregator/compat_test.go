package aggregator

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

var updateState = flag.Bool("update-state", false, "rewrite testdata/state-*.records with this build's state records")

// stateTraffic is the traffic of the compatibility test: people browsing and
// a fast client, cut in half; the first half's state is what a release wrote.
func stateTraffic() (first, second []*eventpb.RequestEvent) {
	tr := newTraffic(11)
	for i := 0; i < 10; i++ {
		tr.human(fmt.Sprintf("198.51.100.%d", i), chromeUA, 0, 20*time.Minute)
	}
	tr.fast("203.0.113.7", "curl/8", 2*time.Minute, 2*time.Minute, 15)
	evs := tr.sorted()
	return evs[:len(evs)/2], evs[len(evs)/2:]
}

// writeRecords and readRecords keep state records as a compacted topic
// would: the last value of each key, sorted by key.
func writeRecords(path string, state map[string][]byte) error {
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		b.Write(binary.AppendUvarint(nil, uint64(len(k))))
		b.WriteString(k)
		b.Write(binary.AppendUvarint(nil, uint64(len(state[k]))))
		b.Write(state[k])
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func readRecords(path string) ([][2][]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][2][]byte
	for len(raw) > 0 {
		var rec [2][]byte
		for i := range rec {
			n, w := binary.Uvarint(raw)
			if w <= 0 || uint64(len(raw)-w) < n {
				return nil, fmt.Errorf("%s: truncated record", path)
			}
			rec[i] = raw[w : w+int(n)]
			raw = raw[w+int(n):]
		}
		out = append(out, rec)
	}
	return out, nil
}

func scoresOf(t *testing.T, e *Engine, evs []*eventpb.RequestEvent) []byte {
	t.Helper()
	var out []*eventpb.Score
	for _, ev := range evs {
		out = e.Process(ev, out)
	}
	var b []byte
	for _, s := range out {
		m, err := proto.MarshalOptions{Deterministic: true}.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, m...)
	}
	return b
}

// TestStateOfPreviousReleases loads the state records that earlier releases
// wrote after the first half of the traffic, and checks that the second half
// then scores exactly as an engine that saw all of it: a rolling upgrade keeps
// every subject's windows.
func TestStateOfPreviousReleases(t *testing.T) {
	first, second := stateTraffic()
	if *updateState {
		e := NewEngine(testConfig(), WithIdleTimeout(5*time.Minute))
		e.TrackChanges()
		scoresOf(t, e, first)
		state := map[string][]byte{}
		e.Changes(func(k, v []byte) {
			if v != nil {
				state[string(k)] = v
			}
		})
		if err := writeRecords(filepath.Join("testdata", "state-current.records"), state); err != nil {
			t.Fatal(err)
		}
	}
	whole := NewEngine(testConfig(), WithIdleTimeout(5*time.Minute))
	scoresOf(t, whole, first)
	want := scoresOf(t, whole, second)
	files, _ := filepath.Glob(filepath.Join("testdata", "state-*.records"))
	if len(files) == 0 {
		t.Fatal("no testdata/state-*.records")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			recs, err := readRecords(f)
			if err != nil {
				t.Fatal(err)
			}
			e := NewEngine(testConfig(), WithIdleTimeout(5*time.Minute))
			for _, r := range recs {
				if err := e.Load(r[0], r[1]); err != nil {
					t.Fatalf("load %q: %v", r[0], err)
				}
			}
			if got := scoresOf(t, e, second); !bytes.Equal(got, want) {
				t.Fatalf("scores after loading %s differ from an uninterrupted run (%d vs %d bytes)", f, len(got), len(want))
			}
		})
	}
}

// fingerprint is how format 1 identified its layout: the names, offsets,
// sizes and kinds of every field, and the byte order.
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

// The frozen format-1 structs must be the layout format-1 records carry.
func TestV1Layout(t *testing.T) {
	got := fingerprint(reflect.TypeFor[v1IPState](), reflect.TypeFor[v1SessionState](), reflect.TypeFor[v1NetState]())
	if got != v1Layout {
		t.Fatalf("frozen format-1 structs fingerprint %#x, records carry %#x", got, uint64(v1Layout))
	}
}

// The records are SubjectState messages: the generated type reads them.
func TestStateRecordIsSubjectState(t *testing.T) {
	var s ipState
	s.Behaviour.Last, s.Behaviour.Sec[3], s.Behaviour.IATMean, s.Behaviour.HasLastID = 42, 7, 1.5, true
	s.Emission.Score = 71.25
	rec := encodeState(&s)
	var m eventpb.SubjectState
	if err := proto.Unmarshal(rec, &m); err != nil {
		t.Fatal(err)
	}
	if m.GetFormat() != stateFormat {
		t.Fatalf("format %d", m.GetFormat())
	}
	got := map[string]*eventpb.StateField{}
	for _, f := range m.GetFields() {
		got[f.GetName()] = f
	}
	if f := got["behaviour.last"]; f == nil || len(f.GetSigned()) != 1 || f.GetSigned()[0] != 42 {
		t.Errorf("behaviour.last: %v", f)
	}
	if f := got["behaviour.sec"]; f == nil || len(f.GetUnsigned()) != 10 || f.GetUnsigned()[3] != 7 {
		t.Errorf("behaviour.sec: %v", f)
	}
	if f := got["behaviour.iat_mean"]; f == nil || f.GetFloat()[0] != 1.5 {
		t.Errorf("behaviour.iat_mean: %v", f)
	}
	if f := got["emission.score"]; f == nil || f.GetFloat()[0] != 71.25 {
		t.Errorf("emission.score: %v", f)
	}
	if _, ok := got["behaviour.req"]; ok {
		t.Error("an all-zero field was written")
	}
	// A record from a release with a field this one lacks, and without one
	// this one has, still reads.
	m.Fields = append(m.Fields, &eventpb.StateField{Name: "behaviour.from_the_future", Unsigned: []uint64{1, 2}})
	m.Fields = append(m.Fields, &eventpb.StateField{Name: "behaviour.sec", Unsigned: []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}})
	b, _ := proto.Marshal(&m)
	var back ipState
	if err := decodeState(b, &back, fromV1[v1IPState]); err != nil {
		t.Fatal(err)
	}
	if back.Behaviour.Last != 42 || back.Behaviour.Sec[9] != 10 || back.Emission.Score != 71.25 || !back.Behaviour.HasLastID {
		t.Fatalf("read back %+v", back.Behaviour)
	}
}

func FuzzStateRecord(f *testing.F) {
	var s ipState
	s.Behaviour.Last, s.Behaviour.Sec[3] = 42, 7
	f.Add(encodeState(&s))
	f.Add([]byte{8, 2, 18, 3, 10, 1, 'x'})
	f.Fuzz(func(t *testing.T, rec []byte) {
		var got ipState
		if err := decodeState(rec, &got, fromV1[v1IPState]); err != nil {
			return
		}
		// Whatever was read encodes and reads back the same.
		var again ipState
		if err := decodeState(encodeState(&got), &again, fromV1[v1IPState]); err != nil || !bytes.Equal(encodeState(&again), encodeState(&got)) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// BenchmarkStateRecord measures writing and reading one ip: state record in
// format 2 against format 1's raw memory copy (the baseline it replaced).
func BenchmarkStateRecord(b *testing.B) {
	e := NewEngine(testConfig())
	first, _ := stateTraffic()
	scoresOf(&testing.T{}, e, first)
	var s *ipState
	for _, i := range e.ips.idx {
		if st := e.ips.at(i); s == nil || st.Behaviour.Last > s.Behaviour.Last {
			s = st
		}
	}
	rec := encodeState(s)
	b.Logf("format-2 record %d bytes; format 1 %d", len(rec), 8+unsafe.Sizeof(*s))
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = encodeState(s)
		}
	})
	b.Run("encode-format1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out := make([]byte, 8+unsafe.Sizeof(*s))
			copy(out[8:], unsafe.Slice((*byte)(unsafe.Pointer(s)), unsafe.Sizeof(*s)))
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		var got ipState
		for b.Loop() {
			if err := decodeState(rec, &got, fromV1[v1IPState]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
