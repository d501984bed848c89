package sidecar

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/bulwarkhq/bulwark/libs/challenge"
	"github.com/bulwarkhq/bulwark/libs/eventpb"
	"github.com/bulwarkhq/bulwark/libs/evhttp"
)

// The sidecar's own HTTP server is evhttp: fasthttp's parser and response
// writer on gnet event loops. /v1/authz is on the path of every page view
// nginx serves, and on the two cores a sidecar usually shares with nginx a
// server that wakes a goroutine per request (net/http, fasthttp's own)
// leaves a p99 over 1 ms; see libs/evhttp and BENCHMARKS.md,
// "Verdict sidecar". Only /v1/authz is written for fasthttp; every other
// endpoint is Handler (net/http) through fasthttpadaptor, so the API has
// one implementation, which Go programs can also mount in their own servers.

var (
	headerActionKey    = []byte(HeaderAction)
	headerDegradedKey  = []byte(HeaderDegraded)
	notReadyValue      = []byte(notReady[0])
	headerClearanceKey = []byte(HeaderClearance)
	clearedBytes       = []byte(clearedValue[0])
	// actionBytes are the X-Bulwark-Action values, indexed by action.
	actionBytes = func() (v [eventpb.Action_BLOCK + 1][]byte) {
		for a := range v {
			v[a] = []byte(actionValues[a][0])
		}
		return v
	}()
)

// FastHandler is the HTTP API as a fasthttp handler: what the sidecar's own
// server runs, for Go programs that serve with fasthttp.
func (s *Sidecar) FastHandler() fasthttp.RequestHandler { return s.serveHTTP }

// newFastHandler builds what FastHandler returns: /v1/authz native, the
// rest through the net/http Handler.
func (s *Sidecar) newFastHandler() fasthttp.RequestHandler {
	rest := fasthttpadaptor.NewFastHTTPHandler(s.Handler())
	return func(c *fasthttp.RequestCtx) {
		if string(c.Path()) == "/v1/authz" {
			s.fastAuthz(c)
			return
		}
		rest(c)
	}
}

func (s *Sidecar) newHTTPServer(log *slog.Logger, reg prometheus.Registerer) (*evhttp.Server, error) {
	return evhttp.New(evhttp.Config{
		Handler: s.serveHTTP,
		// A request that is not HTTP, or over a limit, gets the API's JSON
		// error too.
		ErrorHandler: func(c *fasthttp.RequestCtx, err error) {
			writeFastError(c, evhttp.Status(err), "malformed HTTP request: "+err.Error())
		},
		// As net/http's ReadHeaderTimeout and IdleTimeout would: a client
		// gets 5 s to send a request once it has started, and a keep-alive
		// connection (nginx's upstream keepalive) may idle for 2 minutes.
		ReadTimeout: 5 * time.Second,
		IdleTimeout: 2 * time.Minute,
		// The batch endpoint refuses bodies over maxBatchBody with its JSON
		// 413. A body over this limit gets a 413 from ErrorHandler and a
		// closed connection before it is read.
		MaxBodyBytes: 8 * maxBatchBody,
		Logger:       log,
		Registerer:   reg,
	})
}

// fastAuthz is authz (http.go) for fasthttp: the same answers, read from
// fasthttp's request and written without allocating.
func (s *Sidecar) fastAuthz(c *fasthttp.RequestCtx) {
	var peer netip.Addr
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		peer = a.AddrPort().Addr()
	}
	h := &c.Request.Header
	var hv, session string
	switch v := h.PeekAll(s.ipHeader); len(v) {
	case 0:
	case 1:
		hv = unsafeString(v[0])
	default:
		// Repeated header lines form one list (RFC 9110 5.3).
		b := make([]byte, 0, 64)
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, x...)
		}
		hv = unsafeString(b)
	}
	if s.sessHeader != "" {
		session = unsafeString(h.Peek(s.sessHeader))
	}
	var cookie, ua string
	if s.ch != nil {
		if v := h.Cookie(challenge.CookieName); len(v) > 0 {
			cookie, ua = unsafeString(v), unsafeString(h.UserAgent())
		}
	}
	ans, err := s.authorize(apiAuthz, peer, hv, session, cookie, ua)
	if err != nil {
		writeFastError(c, http.StatusBadRequest, err.Error())
		return
	}
	if ans.degraded {
		c.Response.Header.SetCanonical(headerDegradedKey, notReadyValue)
	}
	c.Response.Header.SetCanonical(headerActionKey, actionBytes[ans.action])
	if ans.cleared {
		c.Response.Header.SetCanonical(headerClearanceKey, clearedBytes)
	}
	c.SetStatusCode(authzStatus(ans.action))
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

func writeFastError(c *fasthttp.RequestCtx, status int, msg string) {
	c.Response.Reset()
	c.SetStatusCode(status)
	c.SetContentType("application/json")
	c.SetBody(appendErrorJSON(nil, msg))
}
