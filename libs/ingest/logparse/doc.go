// Package logparse turns one access-log line into an eventpb.RequestEvent.
//
// Formats (see Format): "nginx" (the stock combined format, optionally
// followed by $request_time and/or "$http_x_forwarded_for"), "nginx-json"
// (the log_format in deploy/nginx/log-format-json.conf), "cloudflare"
// (Logpush http_requests NDJSON with Cloudflare's field names), custom
// nginx and Apache formats, and the providers' formats.
//
// Besides the hand-written scanner of the stock nginx format (the fastest
// path) and HAProxy's, text formats compile to a template (literal text and
// typed fields) walked by one matcher, and JSON formats are a jsonSpec
// (key paths to the same field kinds) walked by one JSON scanner
// (jsonscan.go). Both hand each value to the template's field code, so a
// status, a time, a duration or an address means the same in every format.
//
// # Lifetime of parsed strings — read this before using a Parser
//
// A Parser is built for one goroutine and reused line after line without
// allocating. To get there, the strings and optional-field pointers it puts in
// the event ALIAS the line passed to Parse and the Parser's own scratch
// buffers (no copies, via unsafe.String). They are valid only until the next
// Parse call on that Parser and only while the caller leaves the line's bytes
// alone. Callers must use the event at once — typically
// proto.MarshalOptions{}.MarshalAppend(buf, ev) — and never keep ev, its
// strings or its pointers across calls. To keep an event, Clone it:
// proto.Clone copies string headers, not their bytes, so its copy would
// still alias the Parser's buffers.
//
// Parse resets the event and fills it, except Source and SourceOffset, which
// the caller sets after Parse returns.
//
// # What the fields hold
//
// Strings are as the client sent them: nginx's \xHH escapes (and Apache's
// \" and \\) are decoded when the result is clean UTF-8 text, and kept as
// logged otherwise. Raw bytes that are not printable UTF-8 (a log written
// without escaping, JSON logs with escape=json) are escaped as \xHH by one
// shared step that every format's Parse ends with (common.finish), so every
// string is valid UTF-8 and binary junk stays printable. A request line that
// is not "METHOD target [HTTP/x]" (a TLS handshake sent to a plain-HTTP port,
// "SSH-2.0-Go", "G\x00T /") leaves Method empty and keeps its text as logged
// in Path, so such probes stay visible. Either makes the request malformed:
// Malformed says why (MalformedBadBytes, MalformedBadRequestLine), and the
// aggregator scores it (feature malformed_request). A line is never refused
// for its bytes: attackers would add one to evade detection.
// ClientIp is canonical (netip's spelling, IPv4-mapped addresses unmapped);
// RemoteAddr is set only when it differs from ClientIp.
//
// # Rejected lines
//
// Parse returns a *ParseError wrapping one of ErrBadSyntax, ErrBadTime,
// ErrTooLong or ErrBadIP; Reason maps it to the short machine reason that
// the dead-letter topic and metrics use. A line is rejected only when it has
// no usable client address or time, is over-long, or is not the format at
// all (fields missing or out of place). ErrBadUTF8 is no longer returned;
// it stays so that dead letters written by older versions still read.
package logparse
