package logparse

import (
	"unicode/utf8"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Reasons in RequestEvent.Malformed.
const (
	// MalformedBadBytes: the method, target, protocol, User-Agent or Referer
	// held invalid UTF-8, NUL or other control bytes (raw, or as nginx
	// escapes that decode to them). The bytes are kept as \xHH.
	MalformedBadBytes = "bad_bytes"
	// MalformedBadRequestLine: a request line that is not
	// "METHOD target [HTTP/x]" (a TLS handshake sent to a plain port, a lone
	// word). nginx's "-" (no request at all, e.g. a browser's unused
	// preconnect) is not malformed.
	MalformedBadRequestLine = "bad_request_line"
)

// Attackers add a stray byte to a path or user agent precisely so that a
// strict parser drops the line; so no line is refused for its bytes. Every
// parser ends with finish, which is the one place text fields are made safe:
// each byte that is not part of printable UTF-8 is written as \xHH (upper
// case, the way nginx's default log escaping writes it), so an event always
// marshals (proto3 strings must be UTF-8) and the evidence stays readable.

// finish escapes every text field of ev and records why the request is
// malformed, if it is. Every format's Parse calls it last, on success.
func (c *common) finish(ev *eventpb.RequestEvent) error {
	bad := c.badBytes
	for _, f := range [...]*string{&ev.Method, &ev.Path, &ev.Query, &ev.Protocol, &ev.UserAgent, &ev.Referer} {
		var changed bool
		*f, changed = c.escape(*f)
		bad = bad || changed
	}
	// Fields that do not describe the request itself: escaped so the event
	// marshals, but not evidence of an attack.
	for _, f := range [...]*string{&ev.Host, &ev.SessionId, &ev.RemoteAddr, &ev.ForwardedFor,
		&ev.TlsVersion, &ev.TlsCipher, &ev.Ja3, &ev.Ja4, &ev.CdnCountry, &ev.CdnRequestId, &ev.CdnSecurityAction,
		&ev.SecFetchMode, &ev.SecFetchDest} {
		*f, _ = c.escape(*f)
	}
	if ev.AcceptLanguage != nil {
		*ev.AcceptLanguage, _ = c.escape(*ev.AcceptLanguage)
	}
	switch {
	case bad:
		ev.Malformed = MalformedBadBytes
	case c.badLine:
		ev.Malformed = MalformedBadRequestLine
	}
	return nil
}

// escape returns s unchanged when it is printable UTF-8 (the fast path of
// nearly every field), else a copy in the scratch buffer with every invalid
// or control byte (< 0x20, 0x7f) written as \xHH; changed says which.
func (c *common) escape(s string) (string, bool) {
	i := printableASCIIPrefix(s)
	for i < len(s) {
		b := s[i]
		if b >= 0x20 && b < 0x7f {
			i++
			continue
		}
		if b >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || n > 1 {
				i += n
				continue
			}
		}
		break
	}
	if i == len(s) {
		return s, false
	}
	mark := len(c.scratch)
	c.scratch = append(c.scratch, s[:i]...)
	for i < len(s) {
		b := s[i]
		if b >= 0x20 && b < 0x7f {
			c.scratch = append(c.scratch, b)
			i++
			continue
		}
		if b >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || n > 1 {
				c.scratch = append(c.scratch, s[i:i+n]...)
				i += n
				continue
			}
		}
		c.scratch = append(c.scratch, '\\', 'x', hexDigits[b>>4], hexDigits[b&15])
		i++
	}
	return b2s(c.scratch[mark:]), true
}

const hexDigits = "0123456789ABCDEF"

// printableASCIIPrefix is how many of s's leading bytes are printable ASCII
// (0x20..0x7e), found eight bytes at a time: escape runs on every field of
// every line, and the byte loop alone was a tenth of the shipper's CPU.
// (A bit trick rather than a library: the standard library has none for a
// byte range, and this is four operations on a word.)
func printableASCIIPrefix(s string) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		del := w ^ (0x7f * ones)
		// A byte >= 0x80, a byte < 0x20, or a byte == 0x7f (zero after the xor).
		if w&highs != 0 || (w-0x20*ones)&^w&highs != 0 || (del-ones)&^del&highs != 0 {
			break
		}
	}
	return i
}
