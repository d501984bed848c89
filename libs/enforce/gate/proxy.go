package gate

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"time"
)

// newProxy proxies to up with httputil.ReverseProxy, which passes
// streaming responses (flushed at once when their length is unknown or
// they are event streams), WebSocket and other upgrades, and request
// bodies of any size through without buffering them.
func newProxy(up *url.URL, cfg Config, g *Gate) *httputil.ReverseProxy {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// The default of 2 idle connections per host makes a busy gate open
	// and close a connection per request to the upstream.
	tr.MaxIdleConnsPerHost = cfg.MaxIdleConnsPerHost
	tr.MaxIdleConns = 4 * cfg.MaxIdleConnsPerHost
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			// Host is the upstream's (as nginx's proxy_pass does); the
			// visitor's is in X-Forwarded-Host.
			// A chain from a trusted proxy continues; from anyone else it
			// starts at the visitor.
			if xff := pr.In.Header["X-Forwarded-For"]; len(xff) > 0 && g.resolver.Trusted(peerOf(pr.In)) {
				pr.Out.Header["X-Forwarded-For"] = xff
			}
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Real-IP", g.clientIP(pr.In).String())
		},
		Transport: tr,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			reason := "unreachable"
			if errors.Is(err, context.Canceled) {
				reason = "client_gone"
			}
			g.m.upstreamErrors.WithLabelValues(reason).Inc()
			g.log.Warn("upstream", "method", r.Method, "path", r.URL.Path, "err", err)
			if reason == "client_gone" {
				return
			}
			http.Error(w, "The site is not answering right now; please try again shortly.", http.StatusBadGateway)
		},
	}
}

// recorder notes the status and bytes of a response for the request
// event. Unwrap lets http.ResponseController (which ReverseProxy uses to
// flush and to hijack for upgrades) reach the server's writer.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader && code >= 200 {
		r.status, r.wroteHeader = code, true
	}
	if code == http.StatusSwitchingProtocols {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func peerOf(r *http.Request) netip.Addr {
	ap, _ := netip.ParseAddrPort(r.RemoteAddr)
	return ap.Addr().Unmap()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
