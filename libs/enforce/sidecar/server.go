package sidecar

import (
	"log/slog"
	"net/http"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar/internal/httpguard"
)

// The sidecar serves its HTTP API on fasthttp's own server behind
// httpguard's limits (libs/enforce/sidecar/internal/httpguard): a server of
// its own on gnet event loops was measured against it with the same limits
// and kept no clear lead (BENCHMARKS.md, "Verdict sidecar").
func (s *Sidecar) newHTTPServer(log *slog.Logger, reg prometheus.Registerer) (*httpguard.Server, error) {
	return httpguard.New(httpguard.Config{
		Handler:      s.serve,
		ErrorHandler: s.httpError,
		// A client gets 5 s to send a request once it has started (and to
		// take an answer), and a keep-alive connection (nginx's upstream
		// keepalive) may idle for 2 minutes.
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
		IdleTimeout:  2 * time.Minute,
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

// httpError writes the API's JSON error for a refused request.
func (s *Sidecar) httpError(c *fasthttp.RequestCtx, err error) {
	status, msg := httpguard.Status(err), err.Error()
	switch status {
	case http.StatusBadRequest:
		msg = "malformed HTTP request: " + msg
	case http.StatusRequestTimeout:
		msg = "request not received in time: " + msg
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
