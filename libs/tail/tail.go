// Package tail reads a log file line by line and, in follow mode, keeps
// reading as it grows, across rotation by rename (logrotate's default, nginx
// reopening its log on USR1) and by copytruncate.
//
// It polls rather than using inotify: polling sees rotations that happened
// while the shipper was down or behind, works on every filesystem the logs
// live on (NFS, overlayfs), and a stat per file per interval is negligible
// next to the lines read.
package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/bulwarkhq/bulwark/libs/logfile"
)

// Line is one line of a file. Data excludes the newline and is only valid
// until the next call to Next.
type Line struct {
	Data []byte
	// Offset is the byte offset of the line's first byte in its file; End is
	// the offset just past its newline: where to resume after this line.
	Offset, End int64
	// Identity is the file the line was read from, Truncated is set when the
	// line was longer than the maximum and Data holds only its beginning.
	Identity  Identity
	Truncated bool
}

// Options tune a Follower.
type Options struct {
	// Follow keeps reading at EOF and follows rotation; without it Next
	// returns io.EOF at the end of the file (a final line without a newline
	// is returned first).
	Follow bool
	// PollInterval is how often a followed file is checked for growth and rotation.
	PollInterval time.Duration
	// MaxLineBytes caps a line; longer lines are returned truncated.
	MaxLineBytes int
	// BufferBytes is the read buffer size.
	BufferBytes int
}

// Position is where to resume a file.
type Position struct {
	Identity Identity `json:"identity"`
	Offset   int64    `json:"offset"`
}

// Event kinds reported through OnRotate.
const (
	RotatedRename   = "rename"
	RotatedTruncate = "copytruncate"
)

// Follower reads one path.
type Follower struct {
	path string
	opts Options

	f            *os.File
	r            io.Reader // f, or its decompressor
	zr           *logfile.Reader
	id           Identity
	offset       int64 // offset of buf[start] in the file
	buf          []byte
	start        int
	end          int
	skipping     bool // inside an over-long line, discarding until its newline
	long         []byte
	longOffset   int64
	flushPartial bool // the file was rotated away with an unterminated last line

	// OnRotate, when set, is called when the follower moves to a new file.
	OnRotate func(kind string, old, new Identity)
}

// ErrNotFound is returned when the path does not exist and not following.
var ErrNotFound = errors.New("log file not found")

// Open starts reading path at pos. A zero pos, or one whose identity no
// longer matches any file, starts at the beginning of the current file.
// When pos names a file that was rotated away while we were not running, and
// it still sits beside path (path.1, path-20261123, ...), it is read to its end
// first, so that rotation during downtime loses nothing.
func Open(path string, pos Position, opts Options) (*Follower, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = 64 << 10
	}
	if opts.BufferBytes < opts.MaxLineBytes*2 {
		opts.BufferBytes = max(opts.MaxLineBytes*2, 256<<10)
	}
	t := &Follower{path: path, opts: opts, buf: make([]byte, opts.BufferBytes)}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !opts.Follow {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		// Following a file that does not exist yet: wait for it in Next.
		return t, nil
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	id := IdentityOf(fi)
	switch {
	case pos.Identity.IsZero() || pos.Identity == id:
		off := pos.Offset
		if off > fi.Size() && !isCompressed(f) { // truncated while we were away
			off = 0
		}
		t.setFile(f, id, off)
	default:
		if old := findRotated(path, pos.Identity); old != nil {
			f.Close()
			t.setFile(old, pos.Identity, pos.Offset)
		} else {
			t.setFile(f, id, 0)
		}
	}
	if t.f != nil {
		if err := t.position(); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

func isCompressed(f *os.File) bool {
	head := make([]byte, 4)
	n, _ := f.ReadAt(head, 0)
	return logfile.Detect(head[:n]) != logfile.None
}

// position moves the reader to t.offset. A gzip'd or zstd-compressed file
// (a rotated archive given by name) is read through a decompressor, its
// offsets counting decompressed bytes; it cannot seek, so the text before
// the offset is decompressed and skipped.
func (t *Follower) position() error {
	if !isCompressed(t.f) {
		if _, err := t.f.Seek(t.offset, io.SeekStart); err != nil {
			return fmt.Errorf("seek %s to %d: %w", t.path, t.offset, err)
		}
		return nil
	}
	zr, err := logfile.NewReader(t.f, t.path)
	if err != nil {
		return err
	}
	t.zr, t.r = zr, zr
	if _, err := io.CopyN(io.Discard, zr, t.offset); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("skip to %d in %s: %w", t.offset, t.path, err)
	}
	return nil
}

func (t *Follower) setFile(f *os.File, id Identity, off int64) {
	if t.f != nil && t.f != f {
		t.f.Close()
	}
	if t.zr != nil {
		t.zr.Close()
		t.zr = nil
	}
	t.r = f
	t.f, t.id, t.offset, t.start, t.end, t.skipping, t.flushPartial = f, id, off, 0, 0, false, false
}

// findRotated looks beside path for the file with identity id.
func findRotated(path string, id Identity) *os.File {
	matches, _ := filepath.Glob(path + "?*")
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil || IdentityOf(fi) != id {
			continue
		}
		if f, err := os.Open(m); err == nil {
			return f
		}
	}
	return nil
}

// Position returns where the next line starts.
func (t *Follower) Position() Position {
	return Position{Identity: t.id, Offset: t.offset + int64(t.start)}
}

// Compressed reports whether the file is read through a decompressor (its
// offsets count decompressed bytes, so they do not compare with its size).
func (t *Follower) Compressed() bool { return t.zr != nil }

// Path is the followed path.
func (t *Follower) Path() string { return t.path }

// Size returns the current size of the file being read (for lag metrics).
func (t *Follower) Size() int64 {
	if t.f == nil {
		return 0
	}
	fi, err := t.f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Close releases the file.
func (t *Follower) Close() error {
	if t.f == nil {
		return nil
	}
	if t.zr != nil {
		t.zr.Close()
		t.zr = nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}

// Next returns the next line. Without Follow it returns io.EOF at the end;
// with Follow it waits for more data until ctx is done (then ctx.Err()).
func (t *Follower) Next(ctx context.Context) (Line, error) {
	for {
		if t.f != nil {
			if line, ok := t.scan(); ok {
				return line, nil
			}
			n, err := t.fill()
			if n > 0 {
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return Line{}, fmt.Errorf("read %s: %w", t.path, err)
			}
			// A compressed file is an archive: it does not grow or rotate.
			if !t.opts.Follow || t.zr != nil {
				if t.end > t.start || t.skipping { // final line without a newline
					return t.finalLine(), nil
				}
				return Line{}, io.EOF
			}
			if switched, err := t.checkRotation(); err != nil {
				return Line{}, err
			} else if switched {
				continue
			}
		} else if err := t.reopen(); err != nil {
			return Line{}, err
		} else if t.f != nil {
			continue
		}
		select {
		case <-ctx.Done():
			return Line{}, ctx.Err()
		case <-time.After(t.opts.PollInterval):
		}
	}
}

// scan finds a complete line in the buffer. An over-long line keeps only
// its first MaxLineBytes (in t.long) and is returned, marked Truncated, once
// its newline is found, so that End is always a resumable position.
func (t *Follower) scan() (Line, bool) {
	i := bytes.IndexByte(t.buf[t.start:t.end], '\n')
	if i < 0 {
		if t.flushPartial {
			t.flushPartial = false
			return t.finalLine(), true
		}
		if !t.skipping && t.end-t.start > t.opts.MaxLineBytes {
			t.skipping = true
			t.longOffset = t.offset + int64(t.start)
			t.long = append(t.long[:0], t.buf[t.start:t.start+t.opts.MaxLineBytes]...)
		}
		if t.skipping {
			t.start = t.end // discard the rest of the over-long line as it comes
		}
		return Line{}, false
	}
	nl := t.start + i
	if t.skipping {
		t.skipping = false
		t.start = nl + 1
		return Line{Data: t.long, Offset: t.longOffset, End: t.offset + int64(nl+1), Identity: t.id, Truncated: true}, true
	}
	end := nl
	if end > t.start && t.buf[end-1] == '\r' {
		end--
	}
	if end-t.start > t.opts.MaxLineBytes {
		l := t.take(t.start+t.opts.MaxLineBytes, nl+1)
		l.Truncated = true
		return l, true
	}
	return t.take(end, nl+1), true
}

// finalLine returns what is left in the buffer as a line: the last line of
// a file that does not end with a newline.
func (t *Follower) finalLine() Line {
	if t.skipping {
		t.skipping = false
		t.start = t.end
		return Line{Data: t.long, Offset: t.longOffset, End: t.offset + int64(t.end), Identity: t.id, Truncated: true}
	}
	return t.take(t.end, t.end)
}

// take returns buf[start:dataEnd] as a line and moves start to next.
func (t *Follower) take(dataEnd, next int) Line {
	l := Line{
		Data:     t.buf[t.start:dataEnd],
		Offset:   t.offset + int64(t.start),
		End:      t.offset + int64(next),
		Identity: t.id,
	}
	t.start = next
	return l
}

// fill compacts the buffer and reads more.
func (t *Follower) fill() (int, error) {
	if t.start > 0 {
		copy(t.buf, t.buf[t.start:t.end])
		t.offset += int64(t.start)
		t.end -= t.start
		t.start = 0
	}
	if t.end == len(t.buf) {
		return 0, nil
	}
	n, err := t.r.Read(t.buf[t.end:])
	t.end += n
	return n, err
}

// checkRotation is called at EOF of the current file.
func (t *Follower) checkRotation() (bool, error) {
	// The path first, then the open file: a writer finishes the old file
	// before the new one appears, so once the path shows a new file, the old
	// one's size below includes everything that was written to it.
	fi, err := os.Stat(t.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil // renamed away, new one not created yet: keep the old one
		}
		return false, fmt.Errorf("stat %s: %w", t.path, err)
	}
	cur, err := t.f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", t.path, err)
	}
	readTo := t.offset + int64(t.end)
	if id := IdentityOf(fi); id != t.id {
		// Renamed: we are at EOF of the old file, so it is drained
		// (a writer still appending to it is picked up at the next check
		// only while its identity stays; nginx reopens on USR1 at once).
		if cur.Size() > readTo {
			return true, nil // more data arrived in the old file: read it first
		}
		f, err := os.Open(t.path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return false, nil
			}
			return false, fmt.Errorf("open rotated %s: %w", t.path, err)
		}
		if t.end > t.start || t.skipping {
			// The old file ended without a newline: that last line is complete.
			f.Close()
			t.flushPartial = true
			return true, nil
		}
		old := t.id
		t.setFile(f, id, 0)
		if t.OnRotate != nil {
			t.OnRotate(RotatedRename, old, id)
		}
		return true, nil
	}
	if cur.Size() < readTo {
		// copytruncate: same file, shrunk under us; start over at its beginning.
		if _, err := t.f.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("seek %s after truncation: %w", t.path, err)
		}
		t.offset, t.start, t.end, t.skipping = 0, 0, 0, false
		if t.OnRotate != nil {
			t.OnRotate(RotatedTruncate, t.id, t.id)
		}
		return true, nil
	}
	return false, nil
}

// reopen is used while following a path that did not exist.
func (t *Follower) reopen() error {
	f, err := os.Open(t.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("open %s: %w", t.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat %s: %w", t.path, err)
	}
	t.setFile(f, IdentityOf(fi), 0)
	return nil
}
