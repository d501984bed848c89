package logparse

import (
	"errors"
	"strconv"
)

// Sentinel errors; every error returned by Parse wraps exactly one of them.
var (
	ErrBadSyntax = errors.New("bad syntax")
	ErrBadUTF8   = errors.New("invalid UTF-8") // no longer returned (bytes are escaped); kept for older dead letters
	ErrBadTime   = errors.New("bad time")
	ErrTooLong   = errors.New("line too long")
	ErrBadIP     = errors.New("bad client IP")
	// ErrNoClient marks a line that matches its format but names no client:
	// no address (an anonymised log's "-") and no session id either.
	ErrNoClient = errors.New("no client")
	// ErrHeader marks a header line of a log file (CloudFront's #Version and
	// #Fields): not a request, and not an error in the log either.
	ErrHeader = errors.New("header line")
)

// Reasons lists every value Reason returns, in a stable order (metrics and
// summaries keyed by reason).
var Reasons = []string{"bad_syntax", "bad_utf8", "bad_time", "too_long", "bad_ip", "no_client", "header", "other"}

// Reason returns the machine reason for err: "bad_syntax", "bad_utf8",
// "bad_time", "too_long", "bad_ip", "no_client", "header", or "other" for an
// error of another origin.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrBadSyntax):
		return "bad_syntax"
	case errors.Is(err, ErrBadUTF8):
		return "bad_utf8"
	case errors.Is(err, ErrBadTime):
		return "bad_time"
	case errors.Is(err, ErrTooLong):
		return "too_long"
	case errors.Is(err, ErrBadIP):
		return "bad_ip"
	case errors.Is(err, ErrNoClient):
		return "no_client"
	case errors.Is(err, ErrHeader):
		return "header"
	}
	return "other"
}

// ParseError says why and where a line was rejected.
type ParseError struct {
	Err    error  // one of the sentinels
	Format Format // the format being parsed
	Field  string // the field at fault, e.g. "time_local", "EdgeStartTimestamp"; may be empty
	Column int    // 1-based byte column where the problem starts; 0 when unknown
	Detail string // what was wrong
}

func (e *ParseError) Error() string {
	b := make([]byte, 0, 96)
	b = append(b, e.Format...)
	b = append(b, ": "...)
	b = append(b, e.Err.Error()...)
	if e.Field != "" {
		b = append(b, " in "...)
		b = append(b, e.Field...)
	}
	if e.Column > 0 {
		b = append(b, " at column "...)
		b = strconv.AppendInt(b, int64(e.Column), 10)
	}
	if e.Detail != "" {
		b = append(b, ": "...)
		b = append(b, e.Detail...)
	}
	return string(b)
}

func (e *ParseError) Unwrap() error { return e.Err }

func perr(f Format, sentinel error, field string, col int, detail string) error {
	return &ParseError{Err: sentinel, Format: f, Field: field, Column: col, Detail: detail}
}
