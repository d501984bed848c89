// Package evhttp serves HTTP/1.1 on gnet event loops, for handlers that
// answer from memory and never block: the verdict sidecar's /v1/authz.
//
// Why not net/http or fasthttp's own server: both serve each connection on
// its own goroutine. On a one-core sidecar under nginx's keep-alive
// connections every request then costs a goroutine wake-up and a runtime
// scheduling round. With the sidecar's handlers on one core and the same
// limits, evhttp serves 1.23 to 1.31 times as many requests per CPU-second
// as fasthttp's server; the last quiet run, before these limits, also gave
// it the lower p99 (0.83 against 1.12 ms), while runs on a loaded machine
// went either way
// (BENCHMARKS.md, "Verdict sidecar"). An event loop reads every ready
// connection in turn on one goroutine. gnet provides
// the loop (epoll, buffers, writes); fasthttp parses the requests and
// writes the responses, so handlers are ordinary fasthttp.RequestHandlers.
// What is left here is what neither library does for this combination:
// framing requests out of the loop's buffer (header end, Content-Length
// body, pipelining), the limits (431, 413, 411; connections and bodies
// held across connections, 503), keep-alive and idle timeouts, and a
// graceful shutdown. Bodies are collected out of gnet's buffer into one
// allocation of their Content-Length, reserved when the header arrives:
// left in gnet's buffer, a stalled 1 MB body was copied whole on every read
// and 300 of them took the process past 1 GB.
//
// A handler runs on the event loop: while it runs, no other connection on
// that loop is served. Handlers that wait on I/O belong on net/http.
package evhttp
