package evhttp

import "bytes"

// headerEnd returns the length of the request header at the start of b,
// up to and including the empty line that ends it, or -1 when b does not
// yet hold a whole header. Like fasthttp's parser it accepts a bare LF as
// the line end (RFC 9112 2.2).
func headerEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

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
