package sidecar

import "github.com/valyala/fasthttp"

// ServeFast runs a request through the sidecar's own HTTP server (fasthttp),
// for tests that do not go over a socket.
func (s *Sidecar) ServeFast(c *fasthttp.RequestCtx) { s.httpSrv.Handler(c) }
