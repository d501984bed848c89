package chsink

import "github.com/twmb/franz-go/pkg/kgo"

// block is a run of one partition's records, sent together (see doc.go).
type block struct {
	start, last           int64 // offsets of the first and the latest record
	startEpoch, lastEpoch int32
	rows                  []sendRow
	sent                  int  // rows ClickHouse has acknowledged
	full                  bool // no more rows go in; dropped once acknowledged
}

// partition is the sink's state for one assigned topic partition.
type partition struct {
	t      *table
	id     int32
	blocks []*block // at most a full one waiting and the open one
}

func (p *partition) add(r *kgo.Record, v any, ok bool, batchRows int) {
	var b *block
	if n := len(p.blocks); n > 0 && !p.blocks[n-1].full {
		b = p.blocks[n-1]
	} else {
		b = &block{start: r.Offset, startEpoch: r.LeaderEpoch}
		p.blocks = append(p.blocks, b)
	}
	b.last, b.lastEpoch = r.Offset, r.LeaderEpoch
	if ok {
		b.rows = append(b.rows, sendRow{v: v, partition: r.Partition, offset: r.Offset})
	}
	if len(b.rows) >= batchRows {
		b.full = true
	}
}

// pending returns the rows to send for p: whole blocks for a cumulative
// table, only the unacknowledged rows otherwise.
func (p *partition) pending(out []sendRow) []sendRow {
	for _, b := range p.blocks {
		if b.sent == len(b.rows) {
			continue
		}
		from := b.sent
		if p.t.cumulative {
			from = 0
		}
		for _, r := range b.rows[from:] {
			r.start, r.end = uint64(b.start), uint64(b.last)
			out = append(out, r)
		}
	}
	return out
}

// acked marks everything pending as acknowledged, drops finished blocks and
// returns the offset to commit (the next record to read after a restart),
// or -1 when nothing new can be committed.
func (p *partition) acked() (kgo.EpochOffset, int) {
	released := 0
	kept := p.blocks[:0]
	commit := kgo.EpochOffset{Epoch: -1, Offset: -1}
	for _, b := range p.blocks {
		b.sent = len(b.rows)
		if b.full || !p.t.cumulative {
			released += len(b.rows)
			commit = kgo.EpochOffset{Epoch: b.lastEpoch, Offset: b.last + 1}
			continue
		}
		kept = append(kept, b)
	}
	p.blocks = kept
	if len(kept) > 0 {
		// The open block of a cumulative table is re-read from its start
		// after a restart, so that it is re-sent whole.
		b := kept[0]
		commit = kgo.EpochOffset{Epoch: b.startEpoch, Offset: b.start}
	}
	return commit, released
}

func (p *partition) dirty() bool {
	for _, b := range p.blocks {
		if b.sent < len(b.rows) {
			return true
		}
	}
	return false
}

func (p *partition) hasFull() bool {
	for _, b := range p.blocks {
		if b.full {
			return true
		}
	}
	return false
}

func (p *partition) rows() int {
	n := 0
	for _, b := range p.blocks {
		n += len(b.rows)
	}
	return n
}
