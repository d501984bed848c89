package evhttp

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// Guard gives a server that reads its connections itself (fasthttp's own
// server: the baseline the sidecar's server is measured against, in
// internal/serverbase) the limits evhttp applies, with the same framing
// code, so that the two are compared doing the same work:
//
//   - a request that is not HTTP/1.x, or whose lines do not all end in
//     CRLF, is answered 400 at once (fasthttp's own server waits for its
//     read timeout);
//   - request bodies being received at once, across connections, are
//     bounded by MaxBufferedBytes: a body that does not fit is answered 503
//     at once; a chunked body is answered 411, an oversized one 413;
//   - a header over MaxHeaderBytes is answered 431.
//
// Its connections watch the bytes the server reads and answer a refused
// request themselves, with errorHandler's response, then end the
// connection. A body's reservation is given back when its last byte has
// been read (the handler runs right after) or the connection closes.
type Guard struct {
	maxHeader, maxBody int
	maxBuffered        int64
	buffered           atomic.Int64
	errorHandler       func(*fasthttp.RequestCtx, error)
}

// NewGuard returns a Guard with the limits of cfg (MaxHeaderBytes,
// MaxBodyBytes, MaxBufferedBytes, ErrorHandler and their defaults, as New
// reads them).
func NewGuard(cfg Config) *Guard {
	g := &Guard{maxHeader: cfg.MaxHeaderBytes, maxBody: cfg.MaxBodyBytes, maxBuffered: int64(cfg.MaxBufferedBytes),
		errorHandler: cfg.ErrorHandler}
	if g.maxHeader <= 0 {
		g.maxHeader = 16 << 10
	}
	if g.maxBody <= 0 {
		g.maxBody = 4 << 20
	}
	if g.maxBuffered <= 0 {
		g.maxBuffered = 64 << 20
	}
	if g.errorHandler == nil {
		g.errorHandler = defaultErrorHandler
	}
	return g
}

// Listener wraps ln so that its connections are guarded.
func (g *Guard) Listener(ln net.Listener) net.Listener { return guardListener{ln, g} }

// Buffered is the bytes of request bodies reserved now.
func (g *Guard) Buffered() int64 { return g.buffered.Load() }

func (g *Guard) reserve(n int) bool {
	if g.buffered.Add(int64(n)) > g.maxBuffered {
		g.buffered.Add(-int64(n))
		return false
	}
	return true
}

type guardListener struct {
	net.Listener
	g *Guard
}

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &guardConn{Conn: c, g: l.g}, nil
}

// guardConn frames the requests its reader takes, as conn.process does.
type guardConn struct {
	net.Conn
	g        *Guard
	hdr      []byte // the header being received
	bodyLeft int    // bytes of the current body still to come
	reserved int
	refused  error // answered once the bytes before it have been read
}

func (c *guardConn) Read(p []byte) (int, error) {
	if c.refused != nil {
		c.answer(c.refused)
		return 0, io.EOF
	}
	n, err := c.Conn.Read(p)
	ok, refused := c.scan(p[:n])
	if refused != nil {
		c.refused = refused
		if ok == 0 {
			c.answer(refused)
			return 0, io.EOF
		}
		// The requests before the refused one are served first; their
		// responses are written before the server reads again.
		return ok, nil
	}
	return n, err
}

func (c *guardConn) Close() error {
	c.release()
	return c.Conn.Close()
}

func (c *guardConn) release() {
	if c.reserved > 0 {
		c.g.buffered.Add(-int64(c.reserved))
		c.reserved = 0
	}
}

// answer writes the error handler's response to err and ends the
// connection's reading.
func (c *guardConn) answer(err error) {
	var ctx fasthttp.RequestCtx
	c.g.errorHandler(&ctx, err)
	ctx.Response.SetConnectionClose()
	_, _ = ctx.Response.WriteTo(c.Conn)
	c.release()
}

// scan follows the requests in b; ok is how many bytes of b come before a
// refused request (all of them when refused is nil).
func (c *guardConn) scan(b []byte) (ok int, refused error) {
	for i := 0; i < len(b); {
		if c.bodyLeft > 0 {
			take := min(c.bodyLeft, len(b)-i)
			c.bodyLeft -= take
			i += take
			if c.bodyLeft == 0 {
				c.release()
			}
			continue
		}
		if len(c.hdr) == 0 {
			if i += blankLines(b[i:]); i == len(b) {
				break
			}
		}
		start := len(c.hdr)
		c.hdr = append(c.hdr, b[i:]...)
		end := headerEnd(c.hdr)
		h := c.hdr
		if end >= 0 {
			h = c.hdr[:end]
		}
		if !plausibleHeader(h[:min(len(h), c.g.maxHeader+1)]) {
			return i, ErrNotHTTP11
		}
		if end < 0 {
			if len(c.hdr) > c.g.maxHeader {
				return i, ErrHeaderTooLarge
			}
			return len(b), nil
		}
		if end > c.g.maxHeader {
			return i, ErrHeaderTooLarge
		}
		n, err := bodyLength(c.hdr[:end])
		c.hdr = c.hdr[:0]
		switch {
		case err != nil:
			return i, err
		case n > c.g.maxBody:
			return i, ErrBodyTooLarge
		case n > 0 && !c.g.reserve(n):
			return i, ErrBusy
		}
		c.reserved, c.bodyLeft = n, n
		i += end - start
	}
	return len(b), nil
}

var (
	contentLength    = []byte("content-length:")
	transferEncoding = []byte("transfer-encoding:")
)

// bodyLength reads the body's length from a whole header. Written by hand
// rather than parsed with fasthttp's header parser, which the server runs
// on the same bytes right after: parsing twice would charge the baseline
// for work evhttp does once. A malformed length counts as none here; the
// server's parser refuses it.
func bodyLength(hdr []byte) (int, error) {
	n := 0
	for len(hdr) > 0 {
		line := hdr
		if i := bytes.Index(hdr, []byte("\r\n")); i >= 0 {
			line, hdr = hdr[:i], hdr[i+2:]
		} else {
			hdr = nil
		}
		switch {
		case len(line) > len(transferEncoding) && bytes.EqualFold(line[:len(transferEncoding)], transferEncoding):
			return 0, ErrLengthRequired
		case len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength):
			v := bytes.TrimSpace(line[len(contentLength):])
			m := 0
			for _, d := range v {
				if d < '0' || d > '9' || m > 1<<40 {
					return 0, nil
				}
				m = m*10 + int(d-'0')
			}
			n = m
		}
	}
	return n, nil
}
