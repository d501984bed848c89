package logparse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// LineError is a rejected line found by Check.
type LineError struct {
	Line int    // 1-based line number
	Err  error  // the *ParseError
	Text string // the line, cut to 200 bytes
}

func (e LineError) String() string {
	return fmt.Sprintf("line %d: %s: %v", e.Line, Reason(e.Err), e.Err)
}

// CheckResult is what Check found.
type CheckResult struct {
	Lines    int // non-empty lines read
	Parsed   int // of which parsed
	Rejected int // of which rejected (not matching the format, bad values)
	// NoClient counts lines that match the format but name no client (no
	// address, no session id): shipped as dead letters (reason no_client),
	// they say nothing about the format string.
	NoClient int
	Errors   []LineError           // the first rejected lines
	First    *eventpb.RequestEvent // the first parsed event (owned), nil if none
}

// Matches reports whether the format fits: at least one line parsed, and
// no line was rejected (lines without any client do not count against it).
func (r CheckResult) Matches() bool { return r.Parsed > 0 && r.Rejected == 0 }

// Check parses up to maxLines lines of r (0: all) with p and reports how
// many parse, keeping the first maxErrors rejects: the answer to "does my
// format string fit my file?" before anything is shipped.
func Check(r io.Reader, p Parser, maxLines, maxErrors int) (CheckResult, error) {
	var res CheckResult
	br := bufio.NewReaderSize(r, 1<<20)
	var ev eventpb.RequestEvent
	var long []byte
	for n := 0; maxLines == 0 || res.Lines < maxLines; {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Longer than the buffer, so longer than any accepted line:
			// keep enough to be rejected as too long.
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			line = long
		}
		if len(line) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return res, err
		}
		n++
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if err != nil {
				break
			}
			continue
		}
		perr := p.Parse(line, &ev)
		if errors.Is(perr, ErrHeader) {
			if err != nil {
				break
			}
			continue // a file header is neither a request nor a mismatch
		}
		res.Lines++
		if errors.Is(perr, ErrNoClient) {
			res.NoClient++
		} else if perr != nil {
			res.Rejected++
			if len(res.Errors) < maxErrors {
				text := line
				if len(text) > 200 {
					text = text[:200]
				}
				res.Errors = append(res.Errors, LineError{Line: n, Err: perr, Text: string(text)})
			}
		} else {
			res.Parsed++
			if res.First == nil {
				res.First = Clone(&ev)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return res, err
		}
	}
	return res, nil
}
