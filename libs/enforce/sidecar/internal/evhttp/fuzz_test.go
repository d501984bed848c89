package evhttp

import (
	"bytes"
	"fmt"
	"net"
	"regexp"
	"testing"

	"github.com/valyala/fasthttp"
)

var dateLine = regexp.MustCompile("Date: [^\r]*\r\n")

// FuzzProcess feeds arbitrary bytes to a connection, whole and in two
// pieces: nothing may panic, and the answers must not depend on where the
// bytes were split (bar the interim "100 Continue"), as TCP may split them
// anywhere.
func FuzzProcess(f *testing.F) {
	f.Add([]byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), uint16(20))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\nGET /after-close HTTP/1.1\r\n\r\n"), uint16(5))
	f.Add([]byte("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"), uint16(60))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), uint16(3))
	f.Add([]byte("\r\n\r\nGET /x HTTP/1.1\n\n"), uint16(1))
	f.Add([]byte("GET / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"), uint16(10))
	s, err := New(Config{Handler: func(c *fasthttp.RequestCtx) {
		fmt.Fprintf(c, "%s %q %q", c.Method(), c.RequestURI(), c.PostBody())
	}, MaxHeaderBytes: 256, MaxBodyBytes: 1024})
	if err != nil {
		f.Fatal(err)
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	feed := func(pieces ...[]byte) []byte {
		c := newConn(s, addr, addr)
		var buf []byte
		for _, p := range pieces {
			buf = append(buf, p...)
			used, closeConn := c.process(buf)
			if used > len(buf) {
				panic("used more than it was given")
			}
			if closeConn {
				break
			}
			buf = buf[used:]
		}
		return dateLine.ReplaceAll(bytes.ReplaceAll(c.out.b, continueResponse, nil), nil)
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		at := int(split) % (len(in) + 1)
		whole, pieces := feed(in), feed(in[:at], in[at:])
		if !bytes.Equal(whole, pieces) {
			t.Fatalf("split at %d changes the answers:\nwhole:  %q\npieces: %q", at, whole, pieces)
		}
	})
}

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
