package logparse

import "strings"

// splitURI splits a request target into path and query.
func splitURI(uri string) (path, query string) {
	if q := strings.IndexByte(uri, '?'); q >= 0 {
		return uri[:q], uri[q+1:]
	}
	return uri, ""
}
