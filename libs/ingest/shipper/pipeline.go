package shipper

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
)

// A pipeline ships one file's lines on several cores while keeping them in
// file order in Kafka: the reader copies lines into batches, workers parse
// and encode batches in parallel, and one producer hands each batch's
// records to the client in the order the batches were read. Parsing is
// most of a line's cost (BENCHMARKS.md, shipper), so this is what lets the
// shipper keep up with a producer that only copies bytes.
type pipeline struct {
	enc    *encoder // the producer's, for produce
	work   chan *lineBatch
	order  chan *lineBatch
	free   sync.Pool
	wg     sync.WaitGroup
	cur    *lineBatch
	commit func() // registers the lines added with the ack tracker
}

// lineBatch is a run of lines copied out of the follower's buffer (a
// line's Data is valid only until the next read), and their prepared
// records once done is closed.
type lineBatch struct {
	data  []byte
	lines []batchLine
	recs  []*kgo.Record
	proms []func(*kgo.Record, error)
	done  chan struct{}
}

type batchLine struct {
	start, end int
	offset     int64
	id         tail.Identity
	truncated  bool
	seq        uint64
}

const (
	batchLines = 256
	batchBytes = 96 << 10
)

// pipelineWorkers is how many goroutines parse: one per core the process
// may use, at most four (the client's own goroutines need the rest).
func pipelineWorkers() int { return min(max(runtime.GOMAXPROCS(0), 1), 4) }

// newPipeline starts the workers and the producer; close must follow.
// commit is called before a batch is handed on (see ackTracker.commit).
func newPipeline(ctx context.Context, s *Shipper, source string, acked ackFunc, commit func()) (*pipeline, error) {
	n := pipelineWorkers()
	p := &pipeline{work: make(chan *lineBatch, n), order: make(chan *lineBatch, 2*n+1), commit: commit}
	p.free.New = func() any {
		return &lineBatch{data: make([]byte, 0, batchBytes), lines: make([]batchLine, 0, batchLines),
			recs: make([]*kgo.Record, 0, batchLines), proms: make([]func(*kgo.Record, error), 0, batchLines)}
	}
	for range n {
		parser, err := logparse.New(s.format, s.popts)
		if err != nil {
			return nil, err
		}
		enc := newEncoder(s, source, parser, acked)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for b := range p.work {
				for i := range b.lines {
					l := &b.lines[i]
					r, pr := enc.prepare(tail.Line{Data: b.data[l.start:l.end], Offset: l.offset, Identity: l.id, Truncated: l.truncated}, l.seq)
					b.recs, b.proms = append(b.recs, r), append(b.proms, pr)
				}
				close(b.done)
			}
		}()
	}
	p.enc = newEncoder(s, source, nil, acked)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for b := range p.order {
			<-b.done
			// One clock read per batch, not one per record (kgo stamps a
			// record without a timestamp, and the clock cost as much as
			// encoding the record here): a batch is read within a
			// millisecond, the precision Kafka keeps.
			now := time.Now()
			for i, r := range b.recs {
				r.Timestamp = now
				// After a stop, the rest is left unacknowledged (read again
				// after a restart); its chunk is then left to the collector.
				_ = p.enc.produce(ctx, r, b.proms[i])
			}
			clear(b.recs)
			clear(b.proms)
			b.data, b.lines, b.recs, b.proms = b.data[:0], b.lines[:0], b.recs[:0], b.proms[:0]
			p.free.Put(b)
		}
	}()
	return p, nil
}

// add copies line into the current batch, to be acknowledged as seq; a
// full batch is handed on.
func (p *pipeline) add(line tail.Line, seq uint64) {
	b := p.cur
	if b != nil && (len(b.lines) == batchLines || cap(b.data)-len(b.data) < len(line.Data)) {
		p.flush()
		b = nil
	}
	if b == nil {
		b = p.free.Get().(*lineBatch)
		b.done = make(chan struct{})
		p.cur = b
	}
	start := len(b.data)
	b.data = append(b.data, line.Data...)
	b.lines = append(b.lines, batchLine{start: start, end: len(b.data), offset: line.Offset, id: line.Identity, truncated: line.Truncated, seq: seq})
}

// flush commits the lines added so far and hands on the current batch, if
// any. The order queue is filled before the work queue, so the producer
// always waits for a batch some worker has or will have.
func (p *pipeline) flush() {
	p.commit()
	if p.cur == nil {
		return
	}
	p.order <- p.cur
	p.work <- p.cur
	p.cur = nil
}

// close hands on what is left and waits until every record is produced
// (or, after a stop, dropped unproduced).
func (p *pipeline) close() {
	p.flush()
	close(p.work)
	close(p.order)
	p.wg.Wait()
}
