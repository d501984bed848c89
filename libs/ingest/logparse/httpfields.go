package logparse

import "strings"

// cookieValue finds name in a Cookie header ("a=1; b=2"); "" if absent.
func cookieValue(header, name string) string {
	for header != "" {
		var part string
		if i := strings.IndexByte(header, ';'); i >= 0 {
			part, header = header[:i], header[i+1:]
		} else {
			part, header = header, ""
		}
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

// splitURI splits a request target into path and query.
func splitURI(uri string) (path, query string) {
	if q := strings.IndexByte(uri, '?'); q >= 0 {
		return uri[:q], uri[q+1:]
	}
	return uri, ""
}
