package sidecar

import (
	"log/slog"
	"net/http"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar/internal/evhttp"
)

// The sidecar's own HTTP server is evhttp: fasthttp's parser and response
// writer on gnet event loops. /v1/authz is on the path of every page view
// nginx serves, and on the two cores a sidecar usually shares with nginx a
// server that wakes a goroutine per request (net/http, fasthttp's own)
// leaves a higher p99; see libs/enforce/sidecar/internal/evhttp and BENCHMARKS.md, "Verdict sidecar".
func (s *Sidecar) newHTTPServer(log *slog.Logger, reg prometheus.Registerer) (*evhttp.Server, error) {
	return evhttp.New(evhttp.Config{
		Handler:      s.serve,
		ErrorHandler: s.httpError,
		// As net/http's ReadHeaderTimeout and IdleTimeout would: a client
		// gets 5 s to send a request once it has started, and a keep-alive
		// connection (nginx's upstream keepalive) may idle for 2 minutes.
		ReadTimeout: 5 * time.Second,
		IdleTimeout: 2 * time.Minute,
		// The largest body an endpoint takes (the batch's): a longer
		// Content-Length gets a 413 from ErrorHandler and a closed
		// connection before the body is read.
		MaxBodyBytes:     maxBatchBody,
		MaxBufferedBytes: s.cfg.MaxBufferedBytes,
		MaxConns:         s.cfg.MaxConns,
		Logger:           log,
		Registerer:       reg,
	})
}

// FastErrorHandler answers a request the server refuses (not HTTP, over a
// limit) with the API's JSON error, for Go programs that serve FastHandler
// with fasthttp.
func (s *Sidecar) FastErrorHandler() func(*fasthttp.RequestCtx, error) { return s.httpError }

func (s *Sidecar) httpError(c *fasthttp.RequestCtx, err error) {
	status, msg := evhttp.Status(err), err.Error()
	if status == http.StatusBadRequest {
		msg = "malformed HTTP request: " + msg
	}
	writeFastError(c, status, msg)
}

// unsafeString views b as a string without copying. Only for values that
// authorize reads during the request: it keeps none of them (netip copies
// what it parses; the table keeps no looked-up session), and fasthttp
// reuses b's memory after the handler returns.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
