package httpguard

import (
	"errors"
	"net"
	"net/http"

	"github.com/valyala/fasthttp"
)

// The errors a Config.ErrorHandler is called with, besides fasthttp's parse
// errors (400). Status gives each one's HTTP status.
var (
	ErrHeaderTooLarge = errors.New("request header over the size limit")
	// ErrBodyTooLarge is fasthttp's, so one ErrorHandler serves both servers.
	ErrBodyTooLarge = fasthttp.ErrBodyTooLarge
	// ErrLengthRequired: a chunked request body. The endpoints served here
	// take small bodies that every client sends with a Content-Length.
	ErrLengthRequired = errors.New("chunked request bodies are not accepted: send Content-Length")
	// ErrHandlerPanic: the handler panicked; the panic is logged.
	ErrHandlerPanic = errors.New("internal error")
	// ErrBusy: the request's body would take the bodies being received
	// over Config.MaxBufferedBytes. The client may retry.
	ErrBusy = errors.New("server busy: too many request bodies being received, retry later")
	// ErrTooManyConns: Config.MaxConns connections are open; the new one
	// is answered this (before any request is read) and closed.
	ErrTooManyConns = errors.New("server busy: too many connections, retry later")
	// ErrNotHTTP11: a request line without an HTTP version (HTTP/0.9) or a
	// header with a bare CR, refused as soon as it is seen rather than
	// when the read timeout ends a wait for a header that never comes.
	ErrNotHTTP11 = errors.New("malformed request: want an HTTP/1.x request line and CRLF or LF line ends")
)

// refusals gives each error's status and metric reason; any other error
// is fasthttp's: a read timeout (408), or a malformed request (400).
var refusals = []struct {
	err    error
	status int
	reason string
}{
	{ErrHeaderTooLarge, http.StatusRequestHeaderFieldsTooLarge, "header_too_large"},
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge, "body_too_large"},
	{ErrLengthRequired, http.StatusLengthRequired, "chunked"},
	{ErrHandlerPanic, http.StatusInternalServerError, "panic"},
	{ErrBusy, http.StatusServiceUnavailable, "buffer_full"},
	{ErrTooManyConns, http.StatusServiceUnavailable, "too_many_connections"},
	{ErrNotHTTP11, http.StatusBadRequest, "malformed"},
}

// Status is the HTTP status for an error the server hands its ErrorHandler.
func Status(err error) int {
	status, _ := refusal(err)
	return status
}

func refusal(err error) (status int, reason string) {
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			return r.status, r.reason
		}
	}
	// fasthttp's own: a request not whole within ReadTimeout, and a header
	// over its read buffer (the guard's header limit answers first).
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return http.StatusRequestTimeout, "read_timeout"
	}
	var small *fasthttp.ErrSmallBuffer
	if errors.As(err, &small) {
		return http.StatusRequestHeaderFieldsTooLarge, "header_too_large"
	}
	return http.StatusBadRequest, "malformed"
}

// defaultErrorHandler answers with the status and the error as plain text.
func defaultErrorHandler(c *fasthttp.RequestCtx, err error) {
	c.Error(err.Error(), Status(err))
}
