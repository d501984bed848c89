package shipper

import (
	"testing"

	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
)

// The checkpointed position only passes lines that are committed and
// acknowledged (or added done), in file order, whatever order the
// acknowledgements come in; marks keep the highest offset per partition.
func TestAckTracker(t *testing.T) {
	const req, dlq = "requests", "dlq"
	pos := func(off int64) tail.Position { return tail.Position{Offset: off} }
	type ack struct {
		seq       uint64
		topic     string
		partition int32
		offset    int64
	}
	f := func(name string, lines []bool, commitAfter int, acks []ack, wantPos int64, wantMarks map[string]int64) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			a := newAckTracker(pos(0), map[string]Mark{markKey(req, 1): {Topic: req, Partition: 1, Offset: 7}})
			for i, done := range lines {
				if seq := a.add(pos(int64(10*(i+1))), done); seq != uint64(i) {
					t.Fatalf("line %d numbered %d", i, seq)
				}
				if i+1 == commitAfter {
					a.commit()
				}
			}
			for _, k := range acks {
				a.ack(k.seq, k.topic, k.partition, k.offset)
			}
			cp := a.checkpoint()
			if cp.Position.Offset != wantPos {
				t.Errorf("position %d, want %d", cp.Position.Offset, wantPos)
			}
			got := map[string]int64{}
			for k, m := range cp.Partitions {
				got[k] = m.Offset
			}
			if len(got) != len(wantMarks) {
				t.Errorf("marks %v, want %v", got, wantMarks)
			}
			for k, w := range wantMarks {
				if got[k] != w {
					t.Errorf("marks %v, want %v", got, wantMarks)
				}
			}
		})
	}
	f("nothing acknowledged", []bool{false, false}, 2, nil, 0, map[string]int64{"requests/1": 7})
	f("in order", []bool{false, false, false}, 3,
		[]ack{{0, req, 0, 4}, {1, req, 3, 0}, {2, req, 0, 5}}, 30, map[string]int64{"requests/0": 6, "requests/1": 7, "requests/3": 1})
	f("out of order stops at the gap", []bool{false, false, false}, 3,
		[]ack{{2, req, 0, 9}, {0, req, 2, 1}}, 10, map[string]int64{"requests/1": 7, "requests/2": 2})
	f("gap filled", []bool{false, false, false}, 3,
		[]ack{{2, dlq, 0, 9}, {0, req, 1, 3}, {1, req, 1, 8}}, 30, map[string]int64{"requests/1": 9, "dlq/0": 10})
	f("done lines pass once committed", []bool{true, true, false, true}, 4,
		[]ack{{2, req, 0, 0}}, 40, map[string]int64{"requests/0": 1, "requests/1": 7})
	f("staged lines are not passed before commit", []bool{true, true}, 0, nil, 0, map[string]int64{"requests/1": 7})
	f("an older mark is not lowered", []bool{false}, 1, []ack{{0, req, 1, 2}}, 10, map[string]int64{"requests/1": 7})

	t.Run("ring grows past its size", func(t *testing.T) {
		a := newAckTracker(pos(0), nil)
		n := 3 * len(a.pending)
		for i := range n {
			a.add(pos(int64(i+1)), false)
			if i%700 == 0 {
				a.commit()
			}
		}
		a.commit()
		for i := n - 1; i >= 0; i-- {
			a.ack(uint64(i), req, int32(i%3), int64(i))
		}
		if cp := a.checkpoint(); cp.Position.Offset != int64(n) || cp.Partitions["requests/0"].Offset != int64(n-3+1) {
			t.Fatalf("checkpoint %+v, want position %d", cp.Position, n)
		}
	})
}
