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

// Status is the HTTP status for an error the server hands its ErrorHandler.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrHeaderTooLarge):
		return http.StatusRequestHeaderFieldsTooLarge
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrLengthRequired):
		return http.StatusLengthRequired
	case errors.Is(err, ErrHandlerPanic):
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

// defaultErrorHandler answers with the status and the error as plain text.
func defaultErrorHandler(c *fasthttp.RequestCtx, err error) {
	c.Error(err.Error(), Status(err))
}
