package httpguard

import "testing"

func TestPlausibleHeader(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"GET / HTTP/1.1\r", true},
		{"GET /a b", true},
		{"GET / HTTP/1.1\n", false},
		{"GET / HTTP/1.1\r\nHost: x\n", false},
		{"GET / HTTP/1.1\rHost", false},
		{"GET /\r\n", false},
		{"GET\r\n", false},
		{"GET / SPDY/3\r\n", false},
	} {
		if got := plausibleHeader([]byte(tc.in)); got != tc.want {
			t.Errorf("plausibleHeader(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestHeaderEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"GET / HTTP/1.1\r\n\r\n", 18},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody", 27},
		{"GET / HTTP/1.1\n\n", -1},
		{"GET / HTTP/1.1\r\nHost: x\n\r\n", -1},
		{"GET / HTTP/1.1\r\nHost: x\r\n", -1},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r", -1},
		{"", -1},
	} {
		if got := headerEnd([]byte(tc.in)); got != tc.want {
			t.Errorf("headerEnd(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
