package evhttp

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// Config configures a Server. Handler is required; zero values take the
// defaults given.
type Config struct {
	Handler fasthttp.RequestHandler
	// ErrorHandler writes the response to a request that cannot be served:
	// a malformed one (fasthttp's parse error), or ErrHeaderTooLarge,
	// ErrBodyTooLarge, ErrLengthRequired, ErrHandlerPanic, ErrBusy,
	// ErrTooManyConns, ErrNotHTTP11. Status gives
	// the usual status for each. Default: that status with the error as text.
	ErrorHandler func(*fasthttp.RequestCtx, error)
	// MaxHeaderBytes bounds a request's header (431 past it). Default 16 KiB.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request's body (413 past it, answered as soon
	// as the header is read, and the connection closed without reading
	// the body). Default 4 MiB.
	MaxBodyBytes int
	// MaxBufferedBytes bounds the request bodies held in memory across all
	// connections: a body's Content-Length is reserved when its header
	// arrives, and a request that would go over gets 503 (ErrBusy) and a
	// closed connection. Headers are bounded apart from this, by
	// MaxHeaderBytes per connection. Default 64 MiB.
	MaxBufferedBytes int
	// MaxConns bounds the open connections; one more is answered 503
	// (ErrTooManyConns) and closed. Default 10,000.
	MaxConns int
	// ReadTimeout is how long a client has to finish a request it has
	// started. Default 5 s.
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request for that
	// long. Default 2 minutes.
	IdleTimeout time.Duration
	// MaxUnsentBytes bounds the answers a connection may have waiting for
	// its client to read them: a client that pipelines requests and never
	// reads is closed there, rather than growing the server's memory.
	// Default 4 MiB.
	MaxUnsentBytes int
	// EventLoops is how many event loops serve connections. Default
	// GOMAXPROCS: one loop per core the Go runtime may use.
	EventLoops int
	Logger     *slog.Logger
	// Registerer receives the server's metrics, under the namespace
	// bulwark_http; nil registers none.
	Registerer prometheus.Registerer
}

// Server serves HTTP/1.1 on event loops. Serve runs it on a listener;
// Shutdown stops it.
type Server struct {
	handler      fasthttp.RequestHandler
	errorHandler func(*fasthttp.RequestCtx, error)
	maxHeader    int
	maxBody      int
	maxBuffered  int64
	maxConns     int64
	maxUnsent    int
	readTimeout  time.Duration
	idleTimeout  time.Duration
	log          *slog.Logger
	fastLogger   fasthttp.Logger
	metrics      *metrics
	parsers      sync.Pool
	cli          *gnet.Client
	events       *events

	// clock is a coarse time (Unix nanoseconds), advanced by the ticker,
	// so the hot path reads no clock.
	clock    atomic.Int64
	draining atomic.Bool
	// open counts the connections accepted and not yet closed; buffered
	// the body bytes reserved; released the reserved bytes given back
	// since the ticker last returned memory to the OS.
	open, buffered, released atomic.Int64
	// refuseConn is the whole response to a connection over MaxConns.
	refuseConn []byte

	mu      sync.Mutex
	conns   map[*conn]gnet.Conn
	ln      net.Listener
	serving bool // Serve has started the loops
	stopped bool // Shutdown has been called
	done    chan struct{}
}

// New checks cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("evhttp: no Handler")
	}
	s := &Server{
		handler:      cfg.Handler,
		errorHandler: cfg.ErrorHandler,
		maxHeader:    cmp.Or(cfg.MaxHeaderBytes, 16<<10),
		maxBody:      cmp.Or(cfg.MaxBodyBytes, 4<<20),
		maxBuffered:  int64(cmp.Or(cfg.MaxBufferedBytes, 64<<20)),
		maxConns:     int64(cmp.Or(cfg.MaxConns, 10_000)),
		maxUnsent:    cmp.Or(cfg.MaxUnsentBytes, 4<<20),
		readTimeout:  cmp.Or(cfg.ReadTimeout, 5*time.Second),
		idleTimeout:  cmp.Or(cfg.IdleTimeout, 2*time.Minute),
		log:          cfg.Logger,
		metrics:      newMetrics(cfg.Registerer),
		conns:        map[*conn]gnet.Conn{},
		done:         make(chan struct{}),
	}
	if s.errorHandler == nil {
		s.errorHandler = defaultErrorHandler
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "http")
	s.fastLogger = fastLogger{s.log}
	if s.maxBody < 0 || s.maxBuffered < 0 || s.maxConns < 0 || s.maxHeader < 0 {
		return nil, errors.New("evhttp: negative limit")
	}
	s.refuseConn = s.render(ErrTooManyConns)
	s.capConns()
	// The header parser peeks the whole header at once.
	s.parsers.New = func() any { return &parser{br: bufio.NewReaderSize(nil, s.maxHeader)} }
	s.clock.Store(time.Now().UnixNano())
	loops := cmp.Or(cfg.EventLoops, runtime.GOMAXPROCS(0))
	s.events = &events{s: s}
	cli, err := gnet.NewClient(s.events,
		gnet.WithNumEventLoop(loops),
		gnet.WithMulticore(loops > 1),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.log}),
	)
	if err != nil {
		return nil, fmt.Errorf("evhttp: event loops: %w", err)
	}
	s.cli = cli
	return s, nil
}

// Serve accepts connections on ln and hands each to an event loop. It
// returns nil once Shutdown has begun (also when Shutdown came first), or
// the listener's error. Serve does not close ln on error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.stopped || s.serving {
		s.mu.Unlock()
		return nil
	}
	if err := s.cli.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("evhttp: start event loops: %w", err)
	}
	s.ln, s.serving = ln, true
	s.mu.Unlock()
	defer close(s.done)

	stopTick := make(chan struct{})
	defer close(stopTick)
	go s.ticker(stopTick)

	backoff := time.Duration(0)
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.draining.Load() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("evhttp: accept: %w", err)
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does, rather than stop serving.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.metrics.acceptErrors.Inc()
			s.log.Warn("accept HTTP connection; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if s.open.Add(1) > s.maxConns {
			s.refuse(nc)
			continue
		}
		// Enroll moves the socket to an event loop (a dup of its fd) and
		// closes nc.
		if _, err := s.cli.Enroll(nc); err != nil {
			s.open.Add(-1)
			s.metrics.acceptErrors.Inc()
			s.log.Warn("hand HTTP connection to an event loop", "err", err)
		}
	}
}

// Shutdown stops accepting, lets each connection finish the request it is
// receiving (its response says "Connection: close") and closes idle ones,
// then stops the event loops: at once when ctx is done first, closing the
// connections still open. It returns ctx's error in that case.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	serving := s.serving
	s.mu.Unlock()
	s.draining.Store(true)
	if !serving {
		return nil
	}
	_ = s.ln.Close()
	var err error
	select {
	case <-s.done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	for err == nil && s.closeIdle() > 0 {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	if stopErr := s.cli.Stop(); stopErr != nil && err == nil {
		err = fmt.Errorf("evhttp: stop event loops: %w", stopErr)
	}
	return err
}

// closeIdle closes the connections holding no partial request and returns
// how many connections are open.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, gc := range s.conns {
		if c.partialSince.Load() == 0 {
			_ = gc.Close() // asynchronous; OnClose removes it from conns
		}
	}
	return len(s.conns)
}

// ticker advances the clock every second and enforces the read and idle
// timeouts.
func (s *Server) ticker(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			s.clock.Store(now.UnixNano())
			s.expire(now.UnixNano())
			s.returnMemory()
		}
	}
}

func (s *Server) expire(now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, gc := range s.conns {
		if p := c.partialSince.Load(); p != 0 {
			if now-p > int64(s.readTimeout) {
				s.metrics.timeouts.WithLabelValues("read").Inc()
				_ = gc.Close()
			}
		} else if now-c.lastActive.Load() > int64(s.idleTimeout) {
			s.metrics.timeouts.WithLabelValues("idle").Inc()
			_ = gc.Close()
		}
	}
}

// refuse answers a connection over MaxConns with a 503 and closes it. The
// write goes to an empty socket buffer, so it does not block; the deadline
// is for a peer that is already gone.
func (s *Server) refuse(nc net.Conn) {
	s.open.Add(-1)
	s.metrics.refusedConns.Inc()
	_ = nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = nc.Write(s.refuseConn)
	_ = nc.Close()
}

// render is the error handler's whole response to err, with
// "Connection: close".
func (s *Server) render(err error) []byte {
	var c fasthttp.RequestCtx
	c.Init2(addrConn{}, s.fastLogger, true)
	s.errorHandler(&c, err)
	c.Response.SetConnectionClose()
	var out outBuffer
	_, _ = c.Response.WriteTo(&out)
	return out.b
}

// reserve takes n bytes of the MaxBufferedBytes budget for a body, or
// reports that they are not there.
func (s *Server) reserve(n int) bool {
	if s.buffered.Add(int64(n)) > s.maxBuffered {
		s.buffered.Add(-int64(n))
		return false
	}
	s.metrics.buffered.Add(float64(n))
	return true
}

func (s *Server) release(n int) {
	s.buffered.Add(-int64(n))
	s.released.Add(int64(n))
	s.metrics.buffered.Sub(float64(n))
}

// returnMemory hands freed body buffers back to the OS once many were
// released. Go's background scavenger would return them over minutes; after
// an attack of stalled large bodies the sidecar would hold the peak for that
// long, and on a node where memory is the limit the next burst would find it
// there still.
func (s *Server) returnMemory() {
	if s.released.Load() < 8<<20 {
		return
	}
	s.released.Store(0)
	debug.FreeOSMemory()
}

// capConns lowers MaxConns to what the process's open-file limit allows:
// past it accept fails (EMFILE) before the limit is reached, and the
// clients wait in the listen queue instead of getting their 503. A
// connection holds one descriptor (and a second for a moment while the
// accept loop hands it to an event loop, one at a time); a few hundred are
// left for the rest of the program.
func (s *Server) capConns() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<40 { // unlimited
		return
	}
	fit := max(int64(lim.Cur)-256, 1)
	if s.maxConns > fit {
		s.log.Warn("connection limit lowered to fit the open-file limit (raise ulimit -n to serve more)",
			"max_conns", s.maxConns, "lowered_to", fit, "open_file_limit", lim.Cur)
		s.maxConns = fit
	}
}
