// Package cookies finds one cookie in a Cookie header without allocating:
// the shipper reads the session cookie from every logged request, the
// sidecar, the gate and botguard the clearance cookie on every CHALLENGEd
// request.
package cookies

import "strings"

// Value returns the value of the cookie called name in a Cookie header
// ("a=1; b=2"), without its quotes, or "" when the header has none.
// Written out rather than http.ParseCookie or Request.Cookie because those
// parse and allocate every cookie of the header on each call; this
// allocates nothing, and the value is a substring of header.
//
// It looks for the name with strings.Index (vectorised) and then checks
// that the match starts a cookie, rather than splitting the header at each
// ';' and trimming each part: the clearance cookie is looked for on every
// CHALLENGEd request, and the header of a browser often holds a dozen
// cookies.
func Value(header, name string) string {
	for from := 0; from <= len(header); {
		i := strings.Index(header[from:], name)
		if i < 0 {
			return ""
		}
		start := from + i
		from = start + 1
		end := start + len(name)
		if end >= len(header) || header[end] != '=' || !startsCookie(header, start) {
			continue
		}
		v := header[end+1:]
		if j := strings.IndexByte(v, ';'); j >= 0 {
			v = v[:j]
		}
		for v != "" && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
			v = v[:len(v)-1]
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v
	}
	return ""
}

// startsCookie reports whether header[i:] is the start of a cookie: only
// spaces and tabs between it and the header's start or the previous ';'.
func startsCookie(header string, i int) bool {
	for i > 0 && (header[i-1] == ' ' || header[i-1] == '\t') {
		i--
	}
	return i == 0 || header[i-1] == ';'
}
