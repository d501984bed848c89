package httpguard

import "bytes"

// headerEnd returns the length of the request header at the start of b,
// up to and including the empty line that ends it, or -1 when b does not
// yet hold a whole header. Lines end in CRLF: fasthttp's parser takes no
// other line end, and plausibleHeader refuses the others before this
// waits for them.
func headerEnd(b []byte) int {
	if i := bytes.Index(b, crlfcrlf); i >= 0 {
		return i + len(crlfcrlf)
	}
	return -1
}

var crlfcrlf = []byte("\r\n\r\n")

// blankLines returns how many bytes of empty lines b starts with: a client
// may send a CRLF after a request's body, which a server ignores before the
// next request line (RFC 9112 2.2).
func blankLines(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n
}

// plausibleHeader reports whether b, the start of a request header, can
// be or become an HTTP/1.x header fasthttp parses: every line ends in CRLF
// (a CR or LF alone is refused, which RFC 9112 2.2 allows; fasthttp's own
// server refuses a bare LF too), and the request line ends in an HTTP
// version. Without this an HTTP/0.9 request ("GET /\r\n") or a header of
// bare CRs would wait for the read timeout for an answer. fasthttp's parser
// checks the rest once the header is whole.
func plausibleHeader(b []byte) bool {
	// Each LF must follow a CR, and each CR precede an LF (or end b, the
	// LF may be on its way). IndexByte rather than a byte loop: this runs
	// on every request.
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		i += j
		if i == 0 || b[i-1] != '\r' {
			return false
		}
		i++
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\r')
		if j < 0 {
			break
		}
		i += j + 1
		if i < len(b) && b[i] != '\n' {
			return false
		}
	}
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		return true
	}
	line := b[:eol-1]
	sp := bytes.LastIndexByte(line, ' ')
	return sp > 0 && bytes.HasPrefix(line[sp+1:], []byte("HTTP/"))
}
