// Package httpguard serves HTTP/1.1 on fasthttp's own server with the
// limits the sidecar's API needs and fasthttp does not apply itself.
//
// fasthttp parses and writes; it has a body-size limit (413), read, idle
// and write timeouts, and a concurrency limit. What it lacks, and a Guard
// adds around its listener with framing code of its own:
//
//   - a request that is not HTTP/1.x, or whose lines do not all end in
//     CRLF, is answered 400 at once (fasthttp waits for its read timeout);
//   - request bodies being received at once, across connections, are
//     bounded by MaxBufferedBytes: a body that does not fit is answered 503
//     before it is read (fasthttp holds each body whole in memory, so 300
//     stalled 1 MB bodies would hold 300 MB);
//   - a Content-Length over MaxBodyBytes is answered 413, a chunked body
//     411, a header over MaxHeaderBytes 431, all at the header;
//   - connections over MaxConns are answered 503 with the API's JSON error
//     (fasthttp's own answer is plain text), and MaxConns is lowered to fit
//     the open-file limit so the 503 comes before accept fails;
//   - accept errors (out of descriptors) are retried, not fatal;
//   - a handler's panic is a 500 rather than the end of the process.
//
// The sidecar served on its own gnet event-loop server until issue 18's
// benchmark found no clear lead over fasthttp's own server with the same
// limits (median req/s ratio 1.03, p99 ratio 0.99; BENCHMARKS.md,
// "Verdict sidecar"), so the one server is fasthttp's.
package httpguard
