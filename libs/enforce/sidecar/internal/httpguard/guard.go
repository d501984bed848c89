package httpguard

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Guard applies the limits of the package comment to the connections of
// the listeners it wraps. Its connections watch the bytes the server reads
// and answer a refused request themselves, with the error handler's
// response, then end the connection. A body's reservation is given back
// when its last byte has been read (the handler runs right after) or the
// connection closes.
type Guard struct {
	maxHeader, maxBody int
	maxBuffered        int64
	maxConns           int64
	errorHandler       func(*fasthttp.RequestCtx, error)
	log                *slog.Logger
	metrics            *metrics

	// buffered is the body bytes reserved; released the bytes of bodies
	// and closed connections given back since memory was last returned to
	// the OS, lastRelease when (Unix nanoseconds); open the connections
	// accepted and not yet closed.
	buffered, released, lastRelease, open atomic.Int64
	// connMemory is what a connection holds in the server (buffers, a
	// goroutine's stack), counted as released when it closes.
	connMemory int64
	// refuseConn is the whole response to a connection over MaxConns.
	refuseConn []byte

	mu    sync.Mutex
	conns map[*guardConn]struct{}
}

// NewGuard returns a Guard with the limits of cfg (MaxHeaderBytes,
// MaxBodyBytes, MaxBufferedBytes, MaxConns, ErrorHandler, Logger,
// Registerer and their defaults).
func NewGuard(cfg Config) (*Guard, error) {
	cfg = cfg.withDefaults()
	if cfg.MaxHeaderBytes < 0 || cfg.MaxBodyBytes < 0 || cfg.MaxBufferedBytes < 0 || cfg.MaxConns < 0 {
		return nil, errors.New("httpguard: negative limit")
	}
	g := &Guard{
		maxHeader: cfg.MaxHeaderBytes, maxBody: cfg.MaxBodyBytes,
		maxBuffered: int64(cfg.MaxBufferedBytes), maxConns: int64(cfg.MaxConns),
		errorHandler: cfg.ErrorHandler,
		log:          cfg.Logger,
		metrics:      newMetrics(cfg.Registerer),
		conns:        map[*guardConn]struct{}{},
	}
	g.refuseConn = g.render(ErrTooManyConns)
	g.capConns()
	return g, nil
}

// Listener wraps ln so that its connections are guarded.
func (g *Guard) Listener(ln net.Listener) net.Listener { return guardListener{ln, g} }

// Buffered is the bytes of request bodies reserved now.
func (g *Guard) Buffered() int64 { return g.buffered.Load() }

// Open is the guarded connections open now.
func (g *Guard) Open() int64 { return g.open.Load() }

// MaxConns is the connection limit in force.
func (g *Guard) MaxConns() int64 { return g.maxConns }

// closeAll closes every guarded connection still open: the end of a
// shutdown that ran out of time.
func (g *Guard) closeAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c := range g.conns {
		_ = c.Conn.Close() // the server's own Close follows and releases
	}
}

func (g *Guard) reserve(n int) bool {
	if g.buffered.Add(int64(n)) > g.maxBuffered {
		g.buffered.Add(-int64(n))
		return false
	}
	g.metrics.buffered.Add(float64(n))
	return true
}

func (g *Guard) release(n int) {
	g.buffered.Add(-int64(n))
	g.metrics.buffered.Sub(float64(n))
	g.freed(int64(n))
}

func (g *Guard) freed(n int64) {
	g.released.Add(n)
	g.lastRelease.Store(time.Now().UnixNano())
}

// Memory is handed back to the OS once returnAt bytes were released, or
// returnQuietAt bytes and nothing more for returnQuiet (the end of a
// burst: fasthttp's idle workers have exited by then, their stacks free).
const (
	returnAt      = 8 << 20
	returnQuietAt = 1 << 20
	returnQuiet   = 3 * time.Second
)

// returnMemory runs until stop is closed, handing freed bodies and
// connection buffers back to the OS after a burst (see the constants).
// Nothing else would: with no allocation after an attack of stalled
// bodies no GC runs, fasthttp's pools keep their buffers, and Go's
// scavenger returns only what a GC has freed; the sidecar would hold its
// peak, and on a node where memory is the limit the next burst would find
// it there still.
func (g *Guard) returnMemory(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			r := g.released.Load()
			quiet := now.UnixNano()-g.lastRelease.Load() > int64(returnQuiet)
			if r >= returnAt || (r >= returnQuietAt && quiet) {
				g.released.Add(-r)
				// Two collections: the first moves sync.Pool contents to
				// the pools' victim caches, the second frees them.
				runtime.GC()
				debug.FreeOSMemory()
				g.metrics.memoryReturns.Inc()
			}
		}
	}
}

// render is the error handler's whole response to err, with
// "Connection: close".
func (g *Guard) render(err error) []byte {
	var ctx fasthttp.RequestCtx
	g.errorHandler(&ctx, err)
	ctx.Response.SetConnectionClose()
	var out bytes.Buffer
	_, _ = ctx.Response.WriteTo(&out)
	return out.Bytes()
}

// capConns lowers MaxConns to what the process's open-file limit allows:
// past it accept fails (EMFILE) before the limit is reached, and the
// clients wait in the listen queue instead of getting their 503. A few
// hundred descriptors are left for the rest of the program.
func (g *Guard) capConns() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<40 { // unlimited
		return
	}
	fit := max(int64(lim.Cur)-256, 1)
	if g.maxConns > fit {
		g.log.Warn("connection limit lowered to fit the open-file limit (raise ulimit -n to serve more)",
			"max_conns", g.maxConns, "lowered_to", fit, "open_file_limit", lim.Cur)
		g.maxConns = fit
	}
}

type guardListener struct {
	net.Listener
	g *Guard
}

// Accept returns the next connection within MaxConns; the ones over it
// are answered 503 and closed here. An accept error other than a closed
// listener (out of descriptors and the like) is retried after a pause, as
// net/http does: fasthttp's Serve would return it and stop serving.
func (l guardListener) Accept() (net.Conn, error) {
	backoff := time.Duration(0)
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.g.metrics.acceptErrors.Inc()
			l.g.log.Warn("accept HTTP connection; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if l.g.open.Add(1) > l.g.maxConns {
			l.g.refuse(c)
			continue
		}
		l.g.metrics.conns.Inc()
		gc := &guardConn{Conn: c, g: l.g}
		l.g.mu.Lock()
		l.g.conns[gc] = struct{}{}
		l.g.mu.Unlock()
		return gc, nil
	}
}

// refuse answers a connection over MaxConns with a 503 and closes it. The
// write goes to an empty socket buffer, so it does not block; the deadline
// is for a peer that is already gone.
func (g *Guard) refuse(c net.Conn) {
	g.open.Add(-1)
	g.metrics.refusedConns.Inc()
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.Write(g.refuseConn)
	_ = c.Close()
}

// guardConn frames the requests its reader takes.
type guardConn struct {
	net.Conn
	g         *Guard
	hdr       []byte       // the header being received
	bodyLeft  int          // bytes of the current body still to come
	reserved  atomic.Int64 // also given back by a Close from another goroutine (shutdown)
	refused   error        // answered once the bytes before it have been read
	closeOnce sync.Once
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
	c.closeOnce.Do(func() {
		c.releaseBody()
		c.g.mu.Lock()
		delete(c.g.conns, c)
		c.g.mu.Unlock()
		c.g.open.Add(-1)
		c.g.metrics.conns.Dec()
		c.g.freed(c.g.connMemory)
	})
	return c.Conn.Close()
}

func (c *guardConn) releaseBody() {
	if n := c.reserved.Swap(0); n > 0 {
		c.g.release(int(n))
	}
}

// answer writes the error handler's response to err and ends the
// connection's reading.
func (c *guardConn) answer(err error) {
	_, reason := refusal(err)
	c.g.metrics.refused.WithLabelValues(reason).Inc()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Conn.Write(c.g.render(err))
	c.releaseBody()
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
				c.releaseBody()
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
		c.reserved.Store(int64(n))
		c.bodyLeft = n
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
// on the same bytes right after: this runs on every request, and only two
// fields matter here. A malformed length counts as none here; the server's
// parser refuses it.
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
