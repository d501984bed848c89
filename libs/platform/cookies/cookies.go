// Package cookies finds one cookie in a Cookie header without allocating:
// the shipper reads the session cookie from every logged request, the
// sidecar the clearance cookie on every authz call.
package cookies

import "strings"

// Value returns the value of the cookie called name in a Cookie header
// ("a=1; b=2"), without its quotes, or "" when the header has none.
// Written out rather than http.ParseCookie or Request.Cookie because those
// parse and allocate every cookie of the header on each call; this
// allocates nothing, and the value is a substring of header.
func Value(header, name string) string {
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ";")
		part = strings.TrimLeft(part, " \t")
		if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
			v := strings.TrimRight(part[len(name)+1:], " \t")
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}
