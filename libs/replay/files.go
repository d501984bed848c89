package replay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/bulwarkhq/bulwark/libs/eventpb"
	"github.com/bulwarkhq/bulwark/libs/geoip"
	"github.com/bulwarkhq/bulwark/libs/logfile"
	"github.com/bulwarkhq/bulwark/libs/logparse"
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
	lines   atomic.Int64 // lines read (records, for a topic)
	events  atomic.Int64 // events passed on
	skipped atomic.Int64 // outside --since/--until
	bad     [len(badReasons)]atomic.Int64
}

var badReasons = [...]string{"bad_syntax", "bad_utf8", "bad_time", "too_long", "bad_ip", "header", "other"}

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
}

const readBuffer = 1 << 20

func openFiles(paths []string, format logparse.Format, popts logparse.Options, w window, c *counters) (*files, error) {
	fs := &files{w: w, c: c, max: popts.MaxLineBytes}
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
			if !in.ok && !in.done {
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

// advance reads lines of in until one parses into in.head within the window.
func (fs *files) advance(in *fileInput) error {
	for {
		line, n, err := fs.readLine(in)
		if n == 0 && err != nil {
			if err == io.EOF {
				in.done = true
				return nil
			}
			return fmt.Errorf("read %s: %w", in.path, err)
		}
		off := in.offset
		in.offset += n
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		fs.c.lines.Add(1)
		ev := in.head.ev
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
		own(ev, &fs.a, &in.head.o)
		ev.Source = in.path
		ev.SourceOffset = off
		in.ok = true
		return nil
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
