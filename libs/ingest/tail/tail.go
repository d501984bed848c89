// Package tail reads a log file line by line and, in follow mode, keeps
// reading as it grows, across rotation by rename (logrotate's default, nginx
// reopening its log on USR1) and by copytruncate.
//
// It polls rather than using inotify: polling sees rotations that happened
// while the shipper was down or behind, works on every filesystem the logs
// live on (NFS, overlayfs), and a stat per file per interval is negligible
// next to the lines read.
//
// Copytruncate keeps the inode and replaces the content, so the inode alone
// cannot say whether a position is still valid. Every position therefore
// carries fingerprints of the file's head and of the bytes just before it
// (see Fingerprint). When the path no longer holds them (shrunk, or regrown
// with other content), the copy beside it that does is read from the
// position to its end, then the path from 0; when no copy holds them, the
// rotation is reported with Lost set instead of being silently skipped.
package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bulwarkhq/bulwark/libs/ingest/logfile"
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
	// Head and Before fingerprint the file's head and the bytes before End.
	Head, Before Fingerprint
}

// EndPosition is where to resume after the line.
func (l Line) EndPosition() Position {
	return Position{Identity: l.Identity, Offset: l.End, Head: l.Head, Before: l.Before}
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
	// OnRotate, when set, is told of every rotation the follower moves
	// across, including one found when opening (it happened while no one was
	// reading). It is called from Open and Next.
	OnRotate func(Rotation)
}

// Position is where to resume a file. Head and Before are zero in
// checkpoints written before fingerprints existed: such a position is
// trusted by inode and size alone, as before.
type Position struct {
	Identity Identity    `json:"identity"`
	Offset   int64       `json:"offset"`
	Head     Fingerprint `json:"head,omitzero"`
	Before   Fingerprint `json:"before,omitzero"`
}

// Rotation kinds.
const (
	RotatedRename   = "rename"
	RotatedTruncate = "copytruncate"
)

// Rotation describes a move from one file to the next.
type Rotation struct {
	Kind     string
	Old, New Identity
	// Offset is how far the old file had been read.
	Offset int64
	// From is the file the rest of the old one is read from, when it is not
	// the path itself: the renamed file or copytruncate's copy.
	From string
	// Lost is set when the rest of the old file past Offset was not found
	// (its copy was deleted, compressed or never made): lines written to it
	// after Offset may be lost.
	Lost bool
	// WhileAway is set when the rotation was found on Open.
	WhileAway bool
}

// Follower reads one path.
type Follower struct {
	path string
	opts Options

	f            *os.File
	id           Identity
	offset       int64 // offset of buf[start] in the file
	buf          []byte
	start        int
	end          int
	skipping     bool // inside an over-long line, discarding until its newline
	long         []byte
	longOffset   int64
	flushPartial bool // the file was rotated away with an unterminated last line

	// head fingerprints the file's first bytes; tail the bytes before
	// tailEnd (= offset+end): checked after each read, so content replaced
	// under us (copytruncate, then regrown past our offset) is noticed
	// before a byte of it is returned.
	head, tail Fingerprint
	tailEnd    int64

	// next is where to go at EOF when the current file is a copytruncate
	// copy (the truncated path), or a truncated file whose copy was not found
	// (the same file again, from 0, under its next generation).
	next *nextFile
	// drained stops reading the current file: what it holds now is newer
	// content that belongs to next.
	drained bool
	// static: the path is a compressed file, read once to its end (see
	// openCompressed), never followed.
	static bool
}

type nextFile struct {
	f  *os.File
	id Identity
}

// ErrNotFound is returned when the path does not exist and not following.
var ErrNotFound = errors.New("log file not found")

// errReplaced reports that the bytes before the read position changed:
// the file was truncated and written again.
var errReplaced = errors.New("file content replaced")

// Open starts reading path at pos. A zero pos starts at the beginning of the
// current file. When pos names a file that was rotated while we were not
// running, the file holding it is looked for beside path (path.1,
// path-20261123, ...: renamed, or copytruncate's copy) and read from pos to
// its end first, so that rotation during downtime loses nothing; if none
// holds it, OnRotate is told with Lost set and path is read from 0.
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
		// Following a file that does not exist yet (or was renamed away and
		// not recreated): read what is left of the old one, then wait for
		// the path in Next.
		if pos.Offset > 0 && !pos.Identity.IsZero() {
			if old, _ := findOld(path, pos, Identity{}); old != nil {
				t.setFile(old, pos.Identity, pos.Offset)
			}
		}
		return t, t.seek()
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	id := IdentityOf(fi)
	if compression(f) != logfile.None {
		return t.openCompressed(f, id, pos)
	}
	switch {
	case pos.Identity.IsZero():
		t.setFile(f, id, min(pos.Offset, fi.Size()))
	case pos.Identity.SameFile(id) && pos.Offset == 0:
		t.setFile(f, pos.Identity, 0)
	case pos.Identity.SameFile(id) && pos.fingerprinted() && holds(f, fi.Size(), pos):
		t.setFile(f, pos.Identity, pos.Offset)
	case pos.Identity.SameFile(id) && !pos.fingerprinted() && fi.Size() >= pos.Offset:
		t.setFile(f, pos.Identity, pos.Offset) // an old checkpoint: trusted as before
	case pos.Identity.SameFile(id):
		// Same inode, other content: copytruncate while we were away.
		t.copytruncated(f, pos, true)
	default:
		// Another file at the path: the old one was renamed (or deleted).
		// The move to the path is reported when the old file is drained.
		if old, _ := findOld(path, pos, id); old != nil {
			f.Close()
			t.setFile(old, pos.Identity, pos.Offset)
		} else {
			t.setFile(f, id, 0)
			t.notify(Rotation{Kind: RotatedRename, Old: pos.Identity, New: id, Offset: pos.Offset, Lost: pos.Offset > 0, WhileAway: true})
		}
	}
	return t, t.seek()
}

// openCompressed reads a compressed file (a rotated archive, or a file
// given to `bulwark ship` as it is) once, through its decompressed content:
// offsets and fingerprints are of that content, and the file is not
// followed (a compressed file does not grow; its end is the end).
func (t *Follower) openCompressed(f *os.File, id Identity, pos Position) (*Follower, error) {
	d, err := decompress(f, t.path)
	f.Close()
	if err != nil {
		return nil, err
	}
	t.static = true
	fi, err := d.Stat()
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("stat %s: %w", t.path, err)
	}
	switch {
	case pos.Identity.IsZero():
		t.setFile(d, id, min(pos.Offset, fi.Size()))
	case pos.Identity.SameFile(id) && (!pos.fingerprinted() && fi.Size() >= pos.Offset || holds(d, fi.Size(), pos)):
		t.setFile(d, pos.Identity, pos.Offset)
	default:
		// Another file at the path: read it whole.
		t.setFile(d, id, 0)
	}
	return t, t.seek()
}

func (t *Follower) seek() error {
	if t.f == nil {
		return nil
	}
	if _, err := t.f.Seek(t.offset, io.SeekStart); err != nil {
		t.Close()
		return fmt.Errorf("seek %s to %d: %w", t.path, t.offset, err)
	}
	return nil
}

// copytruncated moves on from f (the truncated path, its content replaced
// since pos was read): to the copy beside it that holds pos, read from
// pos.Offset, then back to f from 0; or, without a copy, to f from 0 at once.
// Lines of the copy keep pos's identity, those of the new content get the
// next generation. The read buffer is kept: a line cut at pos continues in
// the copy.
func (t *Follower) copytruncated(f *os.File, pos Position, whileAway bool) {
	newID := pos.Identity.nextGen()
	opening := t.f == nil // nothing buffered yet
	cp, name := findOld(t.path, pos, pos.Identity)
	if cp != nil {
		if opening {
			t.setFile(cp, pos.Identity, pos.Offset)
			t.head, t.tail, t.tailEnd = pos.Head, pos.Before, pos.Offset
		} else {
			// f is t.f: kept open for next; buffer and fingerprints stay.
			t.f, t.drained = cp, false
		}
		t.next = &nextFile{f: f, id: newID}
		_, _ = cp.Seek(pos.Offset, io.SeekStart)
		t.notify(Rotation{Kind: RotatedTruncate, Old: pos.Identity, New: newID, Offset: pos.Offset, From: name, WhileAway: whileAway})
		return
	}
	t.notify(Rotation{Kind: RotatedTruncate, Old: pos.Identity, New: newID, Offset: pos.Offset, Lost: pos.Offset > 0, WhileAway: whileAway})
	if opening {
		t.setFile(f, newID, 0)
		return
	}
	// What is buffered is from before the truncation: return it (an
	// unterminated last line as a line of its own), then read f from 0.
	t.f, t.drained = f, true
	t.next = &nextFile{f: f, id: newID}
}

func (t *Follower) setFile(f *os.File, id Identity, off int64) {
	if t.f != nil && t.f != f {
		t.f.Close()
	}
	t.f, t.id, t.offset, t.start, t.end, t.skipping, t.flushPartial = f, id, off, 0, 0, false, false
	t.drained = false
	t.head, _ = readFingerprint(f, 0, 0)
	t.updateHead(off)
	t.tailEnd = off
	t.tail, _ = readFingerprint(f, off-min(off, beforeBytes), min(off, beforeBytes))
}

// updateHead extends the head fingerprint while the file is shorter than
// headBytes, up to readTo (bytes once read never change in a log file; a
// file where they do is another file).
func (t *Follower) updateHead(readTo int64) {
	if t.head.Len >= headBytes || readTo <= t.head.Len {
		return
	}
	if fp, ok := readFingerprint(t.f, 0, min(readTo, headBytes)); ok {
		t.head = fp
	}
}

func (t *Follower) notify(r Rotation) {
	if t.opts.OnRotate != nil {
		t.opts.OnRotate(r)
	}
}

// Position returns where the next line starts.
func (t *Follower) Position() Position {
	off := t.offset + int64(t.start)
	p := Position{Identity: t.id, Offset: off, Head: t.head}
	switch {
	case t.f == nil || off == 0:
	case t.start > 0:
		p.Before = fingerprintOf(t.buf[max(0, t.start-beforeBytes):t.start])
	case off == t.tailEnd:
		p.Before = t.tail
	default:
		p.Before, _ = readFingerprint(t.f, off-min(off, beforeBytes), min(off, beforeBytes))
	}
	return p
}

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
	if t.next != nil && t.next.f != t.f {
		t.next.f.Close()
	}
	t.next = nil
	if t.f == nil {
		return nil
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
			if errors.Is(err, errReplaced) {
				t.copytruncated(t.f, t.tailPosition(), false)
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return Line{}, fmt.Errorf("read %s: %w", t.path, err)
			}
			if t.next != nil {
				if t.end > t.start || t.skipping { // the old content ended without a newline
					return t.finalLine(), nil
				}
				if err := t.toNext(); err != nil {
					return Line{}, err
				}
				continue
			}
			if !t.opts.Follow || t.static {
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

// Buffered reports whether the next call to Next returns a line already in
// memory, without reading the file or waiting for it to grow: a caller that
// batches lines hands on what it holds before Next may block. It may say
// false when a line would come at once (never the reverse).
func (t *Follower) Buffered() bool {
	return t.f != nil && (t.flushPartial || bytes.IndexByte(t.buf[t.start:t.end], '\n') >= 0)
}

// tailPosition is the position of everything read so far.
func (t *Follower) tailPosition() Position {
	return Position{Identity: t.id, Offset: t.tailEnd, Head: t.head, Before: t.tail}
}

// toNext moves from a drained copy (or truncated file) to the file after it.
func (t *Follower) toNext() error {
	n := t.next
	t.next = nil
	t.setFile(n.f, n.id, 0)
	return t.seek()
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
		l := Line{Data: t.long, Offset: t.longOffset, End: t.offset + int64(nl+1), Identity: t.id, Truncated: true}
		t.fingerprints(&l, 0, nl+1)
		return l, true
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

// fingerprints sets l's fingerprints; from and next are the indexes of its
// first byte (or of the first one still buffered) and of End in the buffer.
// Before covers the line itself, at most beforeBytes of its end: its
// timestamp and client make it unique enough, and hashing it costs ~20 ns.
func (t *Follower) fingerprints(l *Line, from, next int) {
	l.Head = t.head
	l.Before = fingerprintOf(t.buf[max(from, next-beforeBytes):next])
}

// finalLine returns what is left in the buffer as a line: the last line of
// a file that does not end with a newline.
func (t *Follower) finalLine() Line {
	if t.skipping {
		t.skipping = false
		t.start = t.end
		l := Line{Data: t.long, Offset: t.longOffset, End: t.offset + int64(t.end), Identity: t.id, Truncated: true}
		t.fingerprints(&l, 0, t.end)
		return l
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
	t.fingerprints(&l, t.start, next)
	t.start = next
	return l
}

// fill compacts the buffer and reads more. Once bytes were read, it checks
// that the bytes before them are still what was read before: if not, the
// file was truncated and written past our offset again, the new bytes are
// dropped and errReplaced returned.
func (t *Follower) fill() (int, error) {
	if t.drained {
		return 0, io.EOF
	}
	if t.start > 0 {
		copy(t.buf, t.buf[t.start:t.end])
		t.offset += int64(t.start)
		t.end -= t.start
		t.start = 0
	}
	if t.end == len(t.buf) {
		return 0, nil
	}
	n, err := t.f.Read(t.buf[t.end:])
	if n > 0 {
		if !t.tail.matchAt(t.f, t.tailEnd-t.tail.Len) {
			return 0, errReplaced
		}
		t.end += n
		t.tailEnd = t.offset + int64(t.end)
		t.tail = fingerprintOf(t.buf[max(0, t.end-beforeBytes):t.end])
		t.updateHead(t.tailEnd)
	}
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
	if id := IdentityOf(fi); !id.SameFile(t.id) {
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
		t.notify(Rotation{Kind: RotatedRename, Old: old, New: id, Offset: readTo})
		return true, nil
	}
	if cur.Size() < readTo {
		// copytruncate: same file, shrunk under us; finish its copy, then
		// start over at its beginning.
		t.copytruncated(t.f, t.tailPosition(), false)
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
