package httpguard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// Config configures a Server (and a Guard). Handler is required; zero
// values take the defaults given.
type Config struct {
	Handler fasthttp.RequestHandler
	// ErrorHandler writes the response to a request that cannot be served:
	// a malformed one (fasthttp's parse error), one not whole within
	// ReadTimeout (a net.Error whose Timeout is true), or ErrHeaderTooLarge,
	// ErrBodyTooLarge, ErrLengthRequired, ErrHandlerPanic, ErrBusy,
	// ErrTooManyConns, ErrNotHTTP11. Status gives the usual status for
	// each. Default: that status with the error as text.
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
	// closed connection. Default 64 MiB.
	MaxBufferedBytes int
	// MaxConns bounds the open connections; one more is answered 503
	// (ErrTooManyConns) and closed. Default 10,000.
	MaxConns int
	// ReadTimeout is how long a client has to send a whole request once
	// it has started. Default 5 s.
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request for that
	// long. Default 2 minutes.
	IdleTimeout time.Duration
	// WriteTimeout closes a connection whose client does not take an
	// answer for that long (one that pipelines requests and never reads
	// blocks the server's write, then is closed). Default 5 s.
	WriteTimeout time.Duration
	Logger       *slog.Logger
	// Registerer receives the metrics, under the namespace bulwark_http;
	// nil registers none.
	Registerer prometheus.Registerer
}

func (cfg Config) withDefaults() Config {
	cfg.MaxHeaderBytes = cmp.Or(cfg.MaxHeaderBytes, 16<<10)
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, 4<<20)
	cfg.MaxBufferedBytes = cmp.Or(cfg.MaxBufferedBytes, 64<<20)
	cfg.MaxConns = cmp.Or(cfg.MaxConns, 10_000)
	cfg.ReadTimeout = cmp.Or(cfg.ReadTimeout, 5*time.Second)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, 2*time.Minute)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, 5*time.Second)
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = defaultErrorHandler
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// Server is fasthttp's server behind a Guard. Serve runs it on a
// listener; Shutdown stops it.
type Server struct {
	srv   *fasthttp.Server
	guard *Guard

	mu      sync.Mutex
	serving bool // Serve has been called
	ln      net.Listener
	stopped bool // Shutdown has been called
	done    chan struct{}
}

// New checks cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("httpguard: no Handler")
	}
	cfg = cfg.withDefaults()
	cfg.Logger = cfg.Logger.With("component", "http")
	g, err := NewGuard(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{guard: g, done: make(chan struct{})}
	readBuffer := 2*cfg.MaxHeaderBytes + 4096
	// A connection's read and write buffers and its worker's stack.
	g.connMemory = int64(readBuffer + 4096 + 8192)
	s.srv = &fasthttp.Server{
		Handler:      g.recoverPanics(cfg.Handler),
		ErrorHandler: cfg.ErrorHandler,
		ReadTimeout:  cfg.ReadTimeout,
		IdleTimeout:  cfg.IdleTimeout,
		WriteTimeout: cfg.WriteTimeout,
		// The guard refuses connections over MaxConns with the JSON 503;
		// fasthttp's own limit (a plain-text 503) is only a backstop, above
		// it by the connections whose Close the guard has seen and
		// fasthttp's worker not yet.
		Concurrency:        int(g.maxConns) + 1024,
		MaxRequestBodySize: cfg.MaxBodyBytes,
		// Over the guard's header limit, so that the guard answers a long
		// header (431), not fasthttp's "small read buffer" (400).
		ReadBufferSize: readBuffer,
		// An idle worker goroutine exits after this (fasthttp's default is
		// 10 s), so that its stack is free when memory is handed back
		// after a burst of connections.
		MaxIdleWorkerDuration: time.Second,
		CloseOnShutdown:       true,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		Logger:                fastLogger{cfg.Logger},
	}
	return s, nil
}

// Guard is the server's guard, for its figures (Buffered, Open).
func (s *Server) Guard() *Guard { return s.guard }

// Serve serves the connections of ln. It returns nil once Shutdown has
// begun (also when Shutdown came first), or the listener's error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.stopped || s.serving {
		s.mu.Unlock()
		return nil
	}
	s.serving, s.ln = true, ln
	s.mu.Unlock()
	defer close(s.done)
	stop := make(chan struct{})
	defer close(stop)
	go s.guard.returnMemory(stop)
	if err := s.srv.Serve(s.guard.Listener(ln)); err != nil {
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return nil
		}
		return fmt.Errorf("httpguard: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting, lets each connection finish the request it is
// receiving (its response says "Connection: close") and closes idle ones.
// When ctx is done first it closes the connections still open and returns
// ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	serving, ln := s.serving, s.ln
	s.mu.Unlock()
	if !serving {
		return nil
	}
	err := s.srv.ShutdownWithContext(ctx)
	// Serve may not yet have handed ln to fasthttp, whose Shutdown then
	// had no listener to close.
	_ = ln.Close()
	if err != nil && ctx.Err() != nil {
		s.guard.closeAll()
	}
	select {
	case <-s.done:
	case <-time.After(time.Second):
		// Serve returns as soon as the listener is closed; not waiting
		// forever on a listener that was closed by someone else.
	}
	return err
}

// recoverPanics turns a handler's panic into a 500 on its own connection,
// logged and counted: fasthttp's server does not recover, and a panic
// would end the process.
func (g *Guard) recoverPanics(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		defer func() {
			if p := recover(); p != nil {
				g.metrics.panics.Inc()
				g.log.Error("HTTP handler panicked", "panic", p, "method", string(c.Method()), "uri", string(c.RequestURI()))
				c.Response.Reset()
				g.errorHandler(c, ErrHandlerPanic)
				c.SetConnectionClose()
			}
		}()
		h(c)
	}
}

// fastLogger sends fasthttp's log lines to slog at debug level: they are
// mostly clients' malformed requests, already answered 400.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(f string, a ...any) { l.log.Debug(fmt.Sprintf(f, a...)) }
