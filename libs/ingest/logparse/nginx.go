package logparse

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// nginxParser reads the stock combined format
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//
// optionally followed by ` $request_time`, by ` "$http_x_forwarded_for"`
// (the official image's "main" format), or by both in that order; each line
// is checked for these trailing fields on its own. Apache's combined format
// is the same shape and parses too.
//
// The scanner is written by hand: no library parses this format without
// allocating, and the regular expressions others use run at a tenth of the
// speed the shipper needs.
type nginxParser struct {
	common
	reqTime float64
}

func (p *nginxParser) Parse(line []byte, ev *eventpb.RequestEvent) error {
	if err := p.begin(line, ev); err != nil {
		return err
	}
	f := p.format
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1] // a log that went through a CRLF world
	}

	// $remote_addr
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return perr(f, ErrBadSyntax, "remote_addr", 1, "want an address followed by a space")
	}
	remote := b2s(line[:sp])

	// "- $remote_user " up to the time's opening bracket; neither is kept.
	i := sp + 1
	br := bytes.Index(line[i:], []byte(" ["))
	if br < 1 {
		return perr(f, ErrBadSyntax, "remote_user", i+1, `want "- user [" before the time`)
	}
	i += br + 2

	// [$time_local]
	if len(line) < i+nginxTimeLen+1 || line[i+nginxTimeLen] != ']' {
		return perr(f, ErrBadSyntax, "time_local", i+1, "want [dd/Mon/yyyy:hh:mm:ss +zzzz]")
	}
	ts, why := parseTimeLocal(b2s(line[i : i+nginxTimeLen]))
	if why != "" {
		sentinel := ErrBadTime
		if why[0] == 'w' { // "want ...": the shape, not the date, is wrong
			sentinel = ErrBadSyntax
		}
		return perr(f, sentinel, "time_local", i+1, why)
	}
	ev.TimeUnixNano = ts
	i += nginxTimeLen + 1

	// "$request"
	req, next, err := p.quoted(line, i, "request")
	if err != nil {
		return err
	}
	if !splitRequest(req, ev) {
		p.badLine = true
	}
	i = next

	// $status $body_bytes_sent
	tok, next, ok := token(line, i)
	if !ok {
		return perr(f, ErrBadSyntax, "status", i+1, "want a space and a status code")
	}
	st, ok := parseStatus(tok)
	if !ok {
		return perr(f, ErrBadSyntax, "status", i+2, "want a 3-digit status code")
	}
	ev.Status = st
	i = next
	tok, next, ok = token(line, i)
	if !ok {
		return perr(f, ErrBadSyntax, "body_bytes_sent", i+1, "want a space and a byte count")
	}
	if tok != "-" { // Apache's %b logs "-" for no body
		n, ok := parseUint(tok)
		if !ok {
			return perr(f, ErrBadSyntax, "body_bytes_sent", i+2, "want a byte count")
		}
		ev.ResponseBytes = n
	}
	i = next

	// "$http_referer" "$http_user_agent"
	s, next, err := p.quoted(line, i, "http_referer")
	if err != nil {
		return err
	}
	ev.Referer = dash(s)
	i = next
	s, next, err = p.quoted(line, i, "http_user_agent")
	if err != nil {
		return err
	}
	ev.UserAgent = dash(s)
	i = next

	// Optional trailing fields.
	xff := ""
	if i < len(line) && len(line) > i+1 && line[i+1] != '"' {
		tok, next, ok := token(line, i)
		if !ok {
			return perr(f, ErrBadSyntax, "request_time", i+1, "want a space and seconds")
		}
		if tok != "-" {
			v, ok := parseSeconds(tok)
			if !ok {
				return perr(f, ErrBadSyntax, "request_time", i+2, "want seconds such as 0.042")
			}
			p.reqTime = v
			ev.RequestTimeSeconds = &p.reqTime
		}
		i = next
	}
	if i < len(line) {
		s, next, err := p.quoted(line, i, "http_x_forwarded_for")
		if err != nil {
			return err
		}
		xff = dash(s)
		i = next
	}
	if i != len(line) {
		return perr(f, ErrBadSyntax, "", i+1, "unexpected data after the last field")
	}
	if err := p.setClient(ev, remote, xff, "remote_addr", 1); err != nil {
		return err
	}
	return p.finish(ev)
}

// token reads " tok" starting at line[i] == ' ' up to the next space or the
// end of the line.
func token(line []byte, i int) (tok string, next int, ok bool) {
	if i >= len(line) || line[i] != ' ' {
		return "", i, false
	}
	i++
	end := bytes.IndexByte(line[i:], ' ')
	if end < 0 {
		end = len(line) - i
	}
	if end == 0 {
		return "", i, false
	}
	return b2s(line[i : i+end]), i + end, true
}

// quoted reads ` "..."` starting at line[i] and returns the decoded content
// and the index just past the closing quote.
func (p *nginxParser) quoted(line []byte, i int, field string) (string, int, error) {
	if i+1 >= len(line) || line[i] != ' ' || line[i+1] != '"' {
		return "", i, perr(p.format, ErrBadSyntax, field, i+1, `want a space and a quoted value`)
	}
	i += 2
	open := i
	escaped := false
	for {
		q := bytes.IndexByte(line[i:], '"')
		if q < 0 {
			return "", i, perr(p.format, ErrBadSyntax, field, open, "unterminated quoted value")
		}
		bs := bytes.IndexByte(line[i:i+q], '\\')
		if bs < 0 {
			i += q
			break
		}
		escaped = true
		k := i + bs
		for k < i+q {
			if line[k] == '\\' {
				k += 2
			} else {
				k++
			}
		}
		if k == i+q {
			i += q
			break
		}
		i = k // the quote at i+q was escaped; look further
	}
	raw := line[open:i]
	if !escaped {
		return b2s(raw), i + 1, nil
	}
	s, clean := p.unescape(raw)
	if !clean && field != "http_x_forwarded_for" {
		p.badBytes = true
	}
	return s, i + 1, nil
}

// unescape decodes nginx's \xHH and Apache's \" and \\ escapes into the
// scratch buffer when the result is clean text (valid UTF-8 without control
// bytes); otherwise the value is kept as logged, escapes and all, so that
// binary junk such as a TLS handshake sent to a plain-HTTP port stays
// printable and the event stays valid UTF-8, and clean is false.
func (p *nginxParser) unescape(raw []byte) (s string, clean bool) {
	mark := len(p.scratch)
	out := p.scratch
	for j := 0; j < len(raw); j++ {
		c := raw[j]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if j+1 >= len(raw) {
			return p.asLogged(raw, mark), false
		}
		switch raw[j+1] {
		case '"', '\\':
			out = append(out, raw[j+1])
			j++
		case 'x', 'X':
			if j+3 >= len(raw) {
				return p.asLogged(raw, mark), false
			}
			hi, ok1 := unhex(raw[j+2])
			lo, ok2 := unhex(raw[j+3])
			if !ok1 || !ok2 {
				return p.asLogged(raw, mark), false
			}
			b := hi<<4 | lo
			if b < 0x20 || b == 0x7f {
				return p.asLogged(raw, mark), false
			}
			out = append(out, b)
			j += 3
		default:
			return p.asLogged(raw, mark), false
		}
	}
	dec := out[mark:]
	if !utf8.Valid(dec) {
		return p.asLogged(raw, mark), false
	}
	p.scratch = out
	return b2s(dec), true
}

func (p *nginxParser) asLogged(raw []byte, mark int) string {
	p.scratch = p.scratch[:mark]
	return b2s(raw)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// splitRequest splits "$request" into method, path, query and protocol. A
// request line that is not "METHOD target [HTTP/x]" (a TLS handshake or
// other binary sent to a plain port, "G\x00T /", a lone word) leaves the
// method empty, keeps the whole text, as logged, in the path, so that the
// probe stays visible, and returns false. "" and "-" (no request) are not
// malformed.
func splitRequest(r string, ev *eventpb.RequestEvent) bool {
	if r == "" || r == "-" {
		return true
	}
	sp := strings.IndexByte(r, ' ')
	if sp <= 0 || !isToken(r[:sp]) {
		ev.Path = r
		return false
	}
	rest := r[sp+1:]
	if k := strings.LastIndexByte(rest, ' '); k >= 0 && hasHTTPPrefix(rest[k+1:]) {
		ev.Protocol = rest[k+1:]
		rest = rest[:k]
	}
	if rest == "" {
		ev.Path = r
		ev.Protocol = ""
		return false
	}
	ev.Method = r[:sp]
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		ev.Path, ev.Query = rest[:q], rest[q+1:]
	} else {
		ev.Path = rest
	}
	return true
}

func hasHTTPPrefix(s string) bool {
	return len(s) >= 5 && s[0] == 'H' && s[1] == 'T' && s[2] == 'T' && s[3] == 'P' && s[4] == '/'
}

// tchar per RFC 9110 5.6.2.
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-32] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}

// parseSeconds parses "$request_time" ("0.042"); validated first so that
// strconv never builds an error value.
func parseSeconds(s string) (float64, bool) {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case c < '0' || c > '9':
			return 0, false
		}
	}
	if dots > 1 || s == "." || len(s) > 24 {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}
