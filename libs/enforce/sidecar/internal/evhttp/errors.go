package evhttp

import (
	"errors"
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
)

// refusals gives each error's status and metric reason; any other error
// (fasthttp's parse errors) is a malformed request, 400.
var refusals = []struct {
	err    error
	status int
	reason string
}{
	{ErrHeaderTooLarge, http.StatusRequestHeaderFieldsTooLarge, "header_too_large"},
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge, "body_too_large"},
	{ErrLengthRequired, http.StatusLengthRequired, "chunked"},
	{ErrHandlerPanic, http.StatusInternalServerError, "panic"},
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
	return http.StatusBadRequest, "malformed"
}

// defaultErrorHandler answers with the status and the error as plain text.
func defaultErrorHandler(c *fasthttp.RequestCtx, err error) {
	c.Error(err.Error(), Status(err))
}
