// Package evhttp serves HTTP/1.1 on gnet event loops, for handlers that
// answer from memory and never block: the verdict sidecar's /v1/authz.
//
// Why not net/http or fasthttp's own server: both serve each connection on
// its own goroutine. On a one-core sidecar under nginx's keep-alive
// connections every request then costs a goroutine wake-up and a runtime
// scheduling round. With the sidecar's handlers on one core, fasthttp's
// server answers 0.95 times as many requests a second as evhttp, at a p99
// of 1.12 against 0.83 ms, and net/http 0.58 times at 2.76 ms
// (BENCHMARKS.md, "Verdict sidecar"). An event loop reads every ready
// connection in turn on one goroutine. gnet provides
// the loop (epoll, buffers, writes); fasthttp parses the requests and
// writes the responses, so handlers are ordinary fasthttp.RequestHandlers.
// What is left here is what neither library does for this combination:
// framing requests out of the loop's buffer (header end, Content-Length
// body, pipelining), the limits (431, 413, 411), keep-alive and idle
// timeouts, and a graceful shutdown.
//
// A handler runs on the event loop: while it runs, no other connection on
// that loop is served. Handlers that wait on I/O belong on net/http.
package evhttp
