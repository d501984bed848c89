package shipper

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// errPushTooBig refuses a push over LogpushMaxBytes (413).
var errPushTooBig = errors.New("push larger than BULWARK_SHIPPER_LOGPUSH_MAX_BYTES")

// push is a Logpush body read whole and checked before a line of it is
// produced: a push that cannot be taken whole publishes nothing, so
// Logpush's retry of a refused push never duplicates lines.
type push struct {
	raw  []byte // as received, at most the limit
	gzip bool
}

// readPush reads r's body, reading no more than limit+1 bytes of it, and,
// when gzip'd, decompresses it once to check it is whole (CRC and length of
// every member) and no larger than limit decompressed. The decompressed
// lines are not kept: lines() decompresses again, so memory holds the
// compressed push, not its often ten times larger content.
func readPush(r *http.Request, limit int64) (*push, int, error) {
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("%w (%d bytes): %d", errPushTooBig, limit, r.ContentLength)
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("read push: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("%w (%d bytes)", errPushTooBig, limit)
	}
	enc := r.Header.Get("Content-Encoding")
	p := &push{raw: raw, gzip: enc == "gzip" || bytes.HasPrefix(raw, []byte{0x1f, 0x8b})}
	if !p.gzip && enc != "" && enc != "identity" {
		return nil, http.StatusBadRequest, errors.New("unsupported Content-Encoding " + strconv.Quote(enc))
	}
	if !p.gzip {
		return p, 0, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("gzip body: %w", err)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("gzip body (broken or cut short): %w", err)
	}
	if n > limit {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("%w (%d bytes) once decompressed", errPushTooBig, limit)
	}
	return p, 0, nil
}

// lines returns a reader of the push's content; readPush checked it reads
// to its end without error.
func (p *push) lines() io.Reader {
	if !p.gzip {
		return bytes.NewReader(p.raw)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(p.raw))
	return zr
}

// lineReader splits a push into lines like tail does a file: a line longer
// than max is returned cut to its first max bytes with truncated set (it
// goes to the dead-letter topic as too_long), not refused as
// bufio.Scanner's ErrTooLong would.
type lineReader struct {
	br   *bufio.Reader
	max  int
	line []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its newline (and \r), the bytes it
// took in the input, and whether it was cut. It returns io.EOF at the end;
// a last line without a newline is a line.
func (l *lineReader) next() (line []byte, size int64, truncated bool, err error) {
	l.line = l.line[:0]
	for {
		frag, err := l.br.ReadSlice('\n')
		size += int64(len(frag))
		if keep := l.max + 2 - len(l.line); keep > 0 { // max, +1 to know it is longer, +1 for a \r
			l.line = append(l.line, frag[:min(len(frag), keep)]...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && size == 0:
			return nil, 0, false, io.EOF
		case err != nil && !errors.Is(err, io.EOF):
			return nil, size, false, err
		}
		whole := int64(len(l.line)) == size // nothing dropped
		line = l.line
		if bytes.HasSuffix(line, []byte("\n")) {
			line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
		}
		if !whole || len(line) > l.max {
			return line[:min(len(line), l.max)], size, true, nil
		}
		return line, size, false, nil
	}
}
