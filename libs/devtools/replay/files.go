package replay

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/bulwarkhq/bulwark/libs/ingest/geoip"
	"github.com/bulwarkhq/bulwark/libs/ingest/logfile"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// source fills batches with events in event-time order.
type source interface {
	// fill adds events to b until it is full; it returns io.EOF (with
	// whatever it added) when there are no more.
	fill(ctx context.Context, b *batch) error
	close() error
}

// window keeps events with since <= time < until (0 = open).
type window struct{ since, until int64 }

func (w window) keep(t int64) bool {
	return (w.since == 0 || t >= w.since) && (w.until == 0 || t < w.until)
}

// counters are the reading side's counts, read by the progress line while
// the reader runs.
type counters struct {
	lines   atomic.Int64     // lines read (records, for a topic)
	events  atomic.Int64     // events passed on
	skipped atomic.Int64     // outside --since/--until
	bad     [16]atomic.Int64 // by index in badReasons (room for more reasons)
}

// badReasons are logparse's reasons, counted per reason.
var badReasons = logparse.Reasons[:min(len(logparse.Reasons), 16)]

func (c *counters) badLine(err error) {
	r := logparse.Reason(err)
	for i, name := range badReasons {
		if name == r {
			c.bad[i].Add(1)
			return
		}
	}
}

// fileInput is one log file being read.
type fileInput struct {
	path   string
	f      *os.File
	r      *bufio.Reader
	p      logparse.Parser
	offset int64
	head   *slot
	ok     bool // head holds an event
	done   bool
	long   []byte // a line longer than the reader's buffer, being assembled

	// Read-ahead for reordering (see files.reorder): events read but not
	// yet passed on, earliest first, and the newest event time read.
	pend   slotHeap
	free   []*slot
	newest int64
	seq    uint64
}

// files merges log files by event time: rotated files of one server come
// one after the other, files of several servers interleave. On equal times
// the earlier file on the command line goes first, so the order is fixed.
type files struct {
	geo *geoip.DB // nil: events keep only the CDN's geo fields
	in  []*fileInput
	w   window
	a   arena
	c   *counters
	max int
	// reorder is how far (ns) each file reads ahead to put its events in
	// time order: logs merged from several workers or servers are out of
	// order by up to tens of seconds, and the engine drops what comes
	// later than its allowed lateness. Memory grows with reorder x rate.
	reorder int64
}

const readBuffer = 1 << 20

func openFiles(paths []string, format logparse.Format, popts logparse.Options, w window, c *counters, reorder time.Duration) (*files, error) {
	fs := &files{w: w, c: c, max: popts.MaxLineBytes, reorder: int64(reorder)}
	if fs.max == 0 {
		fs.max = logparse.DefaultMaxLineBytes
	}
	for _, path := range paths {
		p, err := logparse.New(format, popts)
		if err != nil {
			fs.close()
			return nil, err
		}
		f, err := os.Open(path)
		if err != nil {
			fs.close()
			return nil, err
		}
		in := &fileInput{path: path, f: f, p: p, head: &slot{ev: &eventpb.RequestEvent{}}}
		// Rotated archives (.gz, .zst) are told by their content and read
		// decompressed; offsets are then positions in the decompressed text.
		r, err := logfile.NewReader(f, path)
		if err != nil {
			f.Close()
			fs.close()
			return nil, err
		}
		in.r = bufio.NewReaderSize(r, readBuffer)
		fs.in = append(fs.in, in)
	}
	return fs, nil
}

func (fs *files) close() error {
	var errs []error
	for _, in := range fs.in {
		errs = append(errs, in.f.Close())
	}
	return errors.Join(errs...)
}

func (fs *files) fill(ctx context.Context, b *batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for !b.full() {
		best := -1
		for i, in := range fs.in {
			if !in.ok && (!in.done || len(in.pend) > 0) {
				if err := fs.advance(in); err != nil {
					return err
				}
			}
			if in.ok && (best < 0 || in.head.ev.TimeUnixNano < fs.in[best].head.ev.TimeUnixNano) {
				best = i
			}
		}
		if best < 0 {
			return io.EOF
		}
		in := fs.in[best]
		b.slots[b.n], in.head = in.head, b.slots[b.n]
		b.n++
		in.ok = false
		fs.c.events.Add(1)
	}
	return nil
}

// advance puts in.head the earliest event of in's read-ahead, reading until
// the read-ahead spans the reorder window (or the file ends). With reorder 0
// events come in file order.
func (fs *files) advance(in *fileInput) error {
	for !in.done && (len(in.pend) == 0 || in.newest-in.pend[0].ev.TimeUnixNano < fs.reorder) {
		var s *slot
		if n := len(in.free); n > 0 {
			s, in.free = in.free[n-1], in.free[:n-1]
		} else {
			s = &slot{ev: &eventpb.RequestEvent{}}
		}
		got, err := fs.readEvent(in, s)
		if err != nil {
			return err
		}
		if !got {
			in.free = append(in.free, s)
			break
		}
		s.seq = in.seq
		in.seq++
		in.newest = max(in.newest, s.ev.TimeUnixNano)
		heap.Push(&in.pend, s)
	}
	if len(in.pend) == 0 {
		return nil
	}
	// in.head is free (its event went into a batch): keep it for reuse.
	in.free = append(in.free, in.head)
	in.head = heap.Pop(&in.pend).(*slot)
	in.ok = true
	return nil
}

// readEvent reads lines of in until one parses into s within the window;
// false at the end of the file.
func (fs *files) readEvent(in *fileInput, s *slot) (bool, error) {
	for {
		line, n, err := fs.readLine(in)
		if n == 0 && err != nil {
			if err == io.EOF {
				in.done = true
				return false, nil
			}
			return false, fmt.Errorf("read %s: %w", in.path, err)
		}
		off := in.offset
		in.offset += n
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		fs.c.lines.Add(1)
		ev := s.ev
		if len(line) > fs.max {
			fs.c.badLine(logparse.ErrTooLong)
			continue
		}
		if perr := in.p.Parse(line, ev); perr != nil {
			fs.c.badLine(perr)
			continue
		}
		if !fs.w.keep(ev.TimeUnixNano) {
			fs.c.skipped.Add(1)
			continue
		}
		fs.geo.Enrich(ev) // before own, which copies the event's strings
		own(ev, &fs.a, &s.o)
		ev.Source = in.path
		ev.SourceOffset = off
		return true, nil
	}
}

// readLine returns the next line with its newline (the last may lack one)
// and how many bytes it took in the file; a line longer than the longest
// accepted comes back cut short, still too long. The slice is valid until
// the next call.
func (fs *files) readLine(in *fileInput) ([]byte, int64, error) {
	line, err := in.r.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, int64(len(line)), err
	}
	n := int64(len(line))
	in.long = append(in.long[:0], line...)
	for err == bufio.ErrBufferFull {
		line, err = in.r.ReadSlice('\n')
		n += int64(len(line))
		if len(in.long) <= fs.max+2 {
			in.long = append(in.long, line...)
		}
	}
	if err != nil && err != io.EOF {
		return nil, n, err
	}
	return in.long, n, nil
}

// slotHeap orders read-ahead events by time, then by the order they were
// read, so that equal times keep the file's order and the output stays
// the same run after run.
type slotHeap []*slot

func (h slotHeap) Len() int { return len(h) }
func (h slotHeap) Less(i, j int) bool {
	a, b := h[i].ev.TimeUnixNano, h[j].ev.TimeUnixNano
	return a < b || (a == b && h[i].seq < h[j].seq)
}
func (h slotHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)   { *h = append(*h, x.(*slot)) }
func (h *slotHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return s
}
