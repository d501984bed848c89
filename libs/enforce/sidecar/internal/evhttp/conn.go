package evhttp

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

var (
	continueResponse = []byte("HTTP/1.1 100 Continue\r\n\r\n")
	expectKey        = []byte("Expect")
	continueValue    = []byte("100-continue")
)

// conn is one client connection's state. process runs on the connection's
// event loop only; the atomics are read by the server's ticker.
type conn struct {
	s   *Server
	ctx fasthttp.RequestCtx
	// inBody is set once the header of the request being received has
	// been parsed into ctx.Request (and taken out of the loop's buffer);
	// its body, bodyLen bytes, is collected in body, for which reserved
	// bytes of the server's MaxBufferedBytes are held. Collecting the body
	// here rather than leaving it in gnet's buffer keeps a connection's
	// memory at its Content-Length: gnet would copy a growing buffer whole
	// on every Peek.
	inBody    bool
	bodyLen   int
	body      []byte
	reserved  int
	continued bool // "100 Continue" sent for the request being received
	out       outBuffer

	// lastActive is the server clock at the connection's last traffic;
	// partialSince is when it started holding an incomplete request (0:
	// it holds none). They drive the idle and read timeouts.
	lastActive   atomic.Int64
	partialSince atomic.Int64
}

func newConn(s *Server, local, remote net.Addr) *conn {
	c := &conn{s: s}
	c.ctx.Init2(addrConn{local, remote}, s.fastLogger, true)
	return c
}

// process serves the whole requests at the start of in, appending their
// responses to c.out, and collects the body of a request being received. It
// returns how many bytes of in it used (the rest stays buffered for the next
// call) and whether the connection must close once c.out is written.
func (c *conn) process(in []byte) (used int, closeConn bool) {
	for {
		if !c.inBody {
			used += blankLines(in[used:])
			rest := in[used:]
			if len(rest) == 0 {
				return used, false
			}
			end := headerEnd(rest)
			hdr := rest
			if end >= 0 {
				hdr = rest[:end]
			}
			if !plausibleHeader(hdr[:min(len(hdr), c.s.maxHeader+1)]) {
				c.fail(ErrNotHTTP11)
				return used, true
			}
			if end < 0 && len(rest) <= c.s.maxHeader {
				return used, false
			}
			if end < 0 || end > c.s.maxHeader {
				c.fail(ErrHeaderTooLarge)
				return used, true
			}
			if err := c.readHeader(rest[:end]); err != nil {
				c.fail(err)
				return used, true
			}
			used += end
		}
		if need := c.bodyLen - len(c.body); need > 0 {
			take := min(need, len(in)-used)
			c.body = append(c.body, in[used:used+take]...)
			used += take
			if take < need {
				if !c.continued && bytes.EqualFold(c.ctx.Request.Header.PeekBytes(expectKey), continueValue) {
					c.out.b = append(c.out.b, continueResponse...)
					c.continued = true
				}
				return used, false
			}
			// body is the request's until the handler returns; fasthttp's
			// own body buffers are pooled, and would keep a large body's
			// memory after the request.
			c.ctx.Request.SetBodyRaw(c.body)
		}
		c.inBody = false
		closeConn = c.serve()
		c.dropBody()
		if closeConn {
			return used, true
		}
	}
}

// readHeader parses a whole request header into c.ctx.Request, frames the
// body that follows it and reserves the memory for the body.
func (c *conn) readHeader(hdr []byte) error {
	c.ctx.Request.Reset()
	c.ctx.Response.Reset()
	c.ctx.ResetUserValues()
	p := c.s.parsers.Get().(*parser)
	defer c.s.parsers.Put(p)
	p.r.Reset(hdr)
	p.br.Reset(&p.r)
	if err := c.ctx.Request.Header.Read(p.br); err != nil {
		return err
	}
	n := c.ctx.Request.Header.ContentLength()
	switch {
	case n == -1: // Transfer-Encoding: chunked
		return ErrLengthRequired
	case n < 0: // no body
		n = 0
	case n > c.s.maxBody:
		return ErrBodyTooLarge
	}
	if n > 0 {
		if !c.s.reserve(n) {
			return ErrBusy
		}
		c.reserved = n
		c.body = make([]byte, 0, n)
	}
	c.inBody, c.bodyLen, c.continued = true, n, false
	return nil
}

// dropBody gives the body's memory and reservation back: after the request
// was served, and when the connection closes.
func (c *conn) dropBody() {
	if c.reserved > 0 {
		c.s.release(c.reserved)
		c.reserved = 0
	}
	if c.body != nil {
		c.ctx.Request.ResetBody() // lets go of SetBodyRaw's reference
	}
	c.body, c.bodyLen = nil, 0
}

// receiving reports whether the connection holds part of a request: in
// the loop's buffer (buffered bytes), or a body being collected.
func (c *conn) receiving(buffered int) bool { return buffered > 0 || c.inBody }

// serve runs the handler on the request in c.ctx and appends its response.
// It reports whether the connection closes after it.
func (c *conn) serve() (closeConn bool) {
	req, resp := &c.ctx.Request, &c.ctx.Response
	// An HTTP/1.0 request without "Connection: keep-alive" counts as
	// "Connection: close" too (fasthttp's parser sets that).
	closeConn = req.Header.ConnectionClose() || c.s.draining.Load()
	resp.SkipBody = req.Header.IsHead()
	c.call()
	if closeConn {
		resp.SetConnectionClose()
	}
	c.write()
	return closeConn || resp.ConnectionClose()
}

// call runs the handler; a panic becomes a 500 that closes the connection
// rather than the end of the event loop, and of every connection on it.
func (c *conn) call() {
	defer func() {
		if v := recover(); v != nil {
			c.s.log.Error("HTTP handler panicked", "path", string(c.ctx.Path()), "panic", fmt.Sprint(v))
			c.s.metrics.panics.Inc()
			c.ctx.Response.Reset()
			c.s.errorHandler(&c.ctx, ErrHandlerPanic)
			c.ctx.Response.SetConnectionClose()
		}
	}()
	c.s.handler(&c.ctx)
}

// fail answers a request that cannot be served with the error handler's
// response and closes the connection: what follows cannot be framed.
func (c *conn) fail(err error) {
	_, reason := refusal(err)
	c.s.metrics.badRequests.WithLabelValues(reason).Inc()
	c.inBody = false
	c.dropBody()
	c.ctx.Response.Reset()
	c.s.errorHandler(&c.ctx, err)
	c.ctx.Response.SetConnectionClose()
	c.write()
}

func (c *conn) write() {
	// fasthttp adds the Date header itself.
	if _, err := c.ctx.Response.WriteTo(&c.out); err != nil {
		// Writing to memory fails only on a body stream's error.
		c.s.log.Warn("write HTTP response", "err", err)
		c.ctx.Response.SetConnectionClose()
	}
}

// outBuffer collects a turn's responses so that they leave in one write.
type outBuffer struct{ b []byte }

func (o *outBuffer) Write(p []byte) (int, error) {
	o.b = append(o.b, p...)
	return len(p), nil
}

// reset empties o, and lets a buffer a large response grew go.
func (o *outBuffer) reset() {
	if cap(o.b) > 64<<10 {
		o.b = nil
		return
	}
	o.b = o.b[:0]
}

// parser reads a header held in memory through the bufio.Reader fasthttp
// parses from.
type parser struct {
	r  bytes.Reader
	br *bufio.Reader
}

// addrConn is the net.Conn fasthttp's RequestCtx sees: only its addresses.
// A handler cannot read or write the connection behind the event loop.
type addrConn struct{ local, remote net.Addr }

func (a addrConn) LocalAddr() net.Addr            { return a.local }
func (a addrConn) RemoteAddr() net.Addr           { return a.remote }
func (addrConn) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (addrConn) Write([]byte) (int, error)        { return 0, net.ErrClosed }
func (addrConn) Close() error                     { return nil }
func (addrConn) SetDeadline(time.Time) error      { return nil }
func (addrConn) SetReadDeadline(time.Time) error  { return nil }
func (addrConn) SetWriteDeadline(time.Time) error { return nil }
