package chsink

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// blockWindow also closes a block of a cumulative table: at the first
// record whose Kafka timestamp falls in a later window than the block's first
// record. A slow partition's open block is re-sent whole at every flush, so
// this bounds those re-sends to blockWindow/FlushInterval per block, however
// slowly the block would fill. Timestamps are stored in Kafka, so a re-read
// cuts the same blocks.
const blockWindow = 10 * time.Second

// block is a run of one partition's records, sent together (see doc.go).
type block struct {
	start, last           int64 // offsets of the first and the latest record
	startEpoch, lastEpoch int32
	window                int64 // blockWindow bucket of the first record's timestamp
	rows                  []sendRow
	sent                  int  // rows ClickHouse has acknowledged
	full                  bool // no more rows go in; dropped once acknowledged
}

// partition is the sink's state for one assigned topic partition.
type partition struct {
	t       *table
	id      int32
	blocks  []*block  // at most a full one waiting and the open one
	hw      int64     // high watermark at the last fetch: caught up when last+1 == hw
	lastAdd time.Time // when the latest record arrived
}

func (p *partition) add(r *kgo.Record, v any, ok bool, batchRows int, now time.Time) {
	p.lastAdd = now
	window := r.Timestamp.UnixMilli() / blockWindow.Milliseconds()
	var b *block
	if n := len(p.blocks); n > 0 && !p.blocks[n-1].full {
		b = p.blocks[n-1]
		if p.t.cumulative && window != b.window {
			b.full = true
			b = nil
		}
	}
	if b == nil {
		b = &block{start: r.Offset, startEpoch: r.LeaderEpoch, window: window}
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

// sends reports whether a flush sends b. Unless partial is set (the flush
// interval passed, or the partition went quiet), a cumulative table holds its
// open block back, so that it is not re-sent with every full block.
func (p *partition) sends(b *block, partial bool) bool {
	return b.sent < len(b.rows) && (b.full || partial || !p.t.cumulative)
}

// quiet: caught up with the partition's end, and no record for a while.
func (p *partition) quiet(now time.Time, linger time.Duration) bool {
	n := len(p.blocks)
	return n > 0 && p.blocks[n-1].last+1 >= p.hw && now.Sub(p.lastAdd) >= linger
}

// pending returns the rows to send for p: whole blocks for a cumulative
// table, only the unacknowledged rows otherwise.
func (p *partition) pending(out []sendRow, partial bool) []sendRow {
	for _, b := range p.blocks {
		if !p.sends(b, partial) {
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

// acked marks what pending returned as acknowledged, drops finished blocks
// and returns the offset to commit (the next record to read after a
// restart), or -1 when nothing new can be committed.
func (p *partition) acked(partial bool) (kgo.EpochOffset, int) {
	released := 0
	kept := p.blocks[:0]
	commit := kgo.EpochOffset{Epoch: -1, Offset: -1}
	for _, b := range p.blocks {
		if p.sends(b, partial) {
			b.sent = len(b.rows)
		}
		if b.sent == len(b.rows) && (b.full || !p.t.cumulative) {
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

func (p *partition) dirty(partial bool) bool {
	for _, b := range p.blocks {
		if p.sends(b, partial) {
			return true
		}
	}
	return false
}

// fullRows counts the rows of full blocks not yet acknowledged.
func (p *partition) fullRows() int {
	n := 0
	for _, b := range p.blocks {
		if b.full {
			n += len(b.rows) - b.sent
		}
	}
	return n
}

func (p *partition) rows() int {
	n := 0
	for _, b := range p.blocks {
		n += len(b.rows)
	}
	return n
}
