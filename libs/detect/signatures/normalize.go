package signatures

// Decoding is written by hand rather than with net/url: url.PathUnescape
// stops at the first malformed escape (attackers send them on purpose),
// allocates per call, and knows neither %uXXXX, nor logparse's \xHH, nor
// overlong UTF-8.

// maxDecodeRounds bounds repeated percent-decoding: double and triple
// encoding are common evasions; more rounds would only cost time.
const maxDecodeRounds = 3

// lowerInto appends s lower-cased (ASCII) to dst.
func lowerInto(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// decodeTarget appends the decoded, lower-cased form of path (and "?" and
// query when there is one) to dst, using tmp as scratch; it returns both
// buffers for reuse.
func decodeTarget(dst, tmp []byte, path, query string) ([]byte, []byte) {
	start := len(dst)
	dst = append(dst, path...)
	if query != "" {
		dst = append(dst, '?')
		q := len(dst)
		dst = append(dst, query...)
		for i := q; i < len(dst); i++ {
			if dst[i] == '+' {
				dst[i] = ' '
			}
		}
	}
	for range maxDecodeRounds {
		seg := dst[start:]
		if !hasEscape(seg) {
			break
		}
		tmp = unescapeInto(tmp[:0], seg)
		dst = append(dst[:start], tmp...)
	}
	seg := dst[start:]
	n := fixOverlong(seg)
	dst = dst[:start+n]
	for i := start; i < len(dst); i++ {
		switch c := dst[i]; {
		case c == '\\':
			dst[i] = '/'
		case 'A' <= c && c <= 'Z':
			dst[i] = c + 'a' - 'A'
		}
	}
	return dst, tmp
}

func hasEscape(b []byte) bool {
	for i := 0; i+2 < len(b); i++ {
		switch b[i] {
		case '%':
			if isHex(b[i+1]) && isHex(b[i+2]) || (b[i+1] == 'u' || b[i+1] == 'U') && i+5 < len(b) {
				return true
			}
		case '\\':
			if (b[i+1] == 'x' || b[i+1] == 'X') && i+3 < len(b) && isHex(b[i+2]) && isHex(b[i+3]) {
				return true
			}
		}
	}
	return false
}

// unescapeInto decodes one round of %XX, %uXXXX (ASCII and Latin-1 only:
// what IIS-style evasions use) and \xHH; malformed escapes stay as they are.
func unescapeInto(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]):
			dst = append(dst, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
		case c == '%' && i+5 < len(b) && (b[i+1] == 'u' || b[i+1] == 'U') &&
			b[i+2] == '0' && b[i+3] == '0' && isHex(b[i+4]) && isHex(b[i+5]):
			dst = append(dst, unhex(b[i+4])<<4|unhex(b[i+5]))
			i += 5
		case c == '\\' && i+3 < len(b) && (b[i+1] == 'x' || b[i+1] == 'X') && isHex(b[i+2]) && isHex(b[i+3]):
			dst = append(dst, unhex(b[i+2])<<4|unhex(b[i+3]))
			i += 3
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// fixOverlong rewrites, in place, the overlong UTF-8 forms that old
// decoders accepted for '.', '/' and '\' (%c0%ae, %c0%af, %c1%9c,
// %e0%80%ae, ...) and returns the new length.
func fixOverlong(b []byte) int {
	w := 0
	for r := 0; r < len(b); r++ {
		c := b[r]
		if (c == 0xc0 || c == 0xc1) && r+1 < len(b) && b[r+1]&0xc0 == 0x80 {
			b[w] = (c&0x1f)<<6 | b[r+1]&0x3f
			w++
			r++
			continue
		}
		if c == 0xe0 && r+2 < len(b) && b[r+1]&0xe0 == 0x80 && b[r+2]&0xc0 == 0x80 {
			b[w] = (b[r+1]&0x3f)<<6 | b[r+2]&0x3f
			w++
			r += 2
			continue
		}
		b[w] = c
		w++
	}
	return w
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
