package logparse

import (
	"strings"

	"github.com/valyala/fastjson"
)

// The JSON formats use github.com/valyala/fastjson rather than
// encoding/json: a reused fastjson.Parser parses a line into values that
// point into its own buffer, unescaping strings in place, so a line costs
// no allocation at all, where encoding/json allocates for every string and
// map and runs several times slower. Its values live until the next Parse,
// which is the lifetime this package promises anyway.

// jsonStr returns a string value ("" and false for null or absent; numbers
// and booleans are not strings and also give false).
func jsonStr(v *fastjson.Value) (string, bool) {
	if v == nil || v.Type() != fastjson.TypeString {
		return "", false
	}
	b, _ := v.StringBytes()
	return b2s(b), true
}

// jsonUint reads a non-negative integer logged either as a JSON number or as
// a string of digits (nginx's escape=json log_format quotes everything).
// absent is true for null, "" and "-".
func jsonUint(v *fastjson.Value) (n uint64, absent, ok bool) {
	switch v.Type() {
	case fastjson.TypeNull:
		return 0, true, true
	case fastjson.TypeNumber:
		n, err := v.Uint64()
		return n, false, err == nil
	case fastjson.TypeString:
		s, _ := jsonStr(v)
		if s == "" || s == "-" {
			return 0, true, true
		}
		n, ok := parseUint(s)
		return n, false, ok
	}
	return 0, false, false
}

// jsonSeconds reads a duration in seconds, as number or string.
func jsonSeconds(v *fastjson.Value) (f float64, absent, ok bool) {
	switch v.Type() {
	case fastjson.TypeNull:
		return 0, true, true
	case fastjson.TypeNumber:
		f, err := v.Float64()
		return f, false, err == nil && f >= 0
	case fastjson.TypeString:
		s, _ := jsonStr(v)
		if s == "" || s == "-" {
			return 0, true, true
		}
		f, ok := parseSeconds(s)
		return f, false, ok
	}
	return 0, false, false
}

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
