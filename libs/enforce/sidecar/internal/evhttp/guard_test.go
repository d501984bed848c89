package evhttp_test

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar/internal/evhttp"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// serveGuarded runs fasthttp's own server behind a Guard, as the
// benchmark's baseline (internal/serverbase) does. Its read timeout is an
// hour: an answer cannot come from it.
func serveGuarded(t *testing.T, maxBuffered int) (*evhttp.Guard, string) {
	t.Helper()
	g := evhttp.NewGuard(evhttp.Config{MaxHeaderBytes: 1024, MaxBodyBytes: 1 << 20, MaxBufferedBytes: maxBuffered})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: echo, ReadTimeout: time.Hour, ReadBufferSize: 4096} // over MaxHeaderBytes: the guard answers a long header
	done := make(chan error, 1)
	go func() { done <- srv.Serve(g.Listener(ln)) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return g, ln.Addr().String()
}

// The same line ends and request lines as TestLineEnds, the same answers.
func TestGuardLineEnds(t *testing.T) {
	_, addr := serveGuarded(t, 0)
	checkRefusals(t, addr, append(slices.Clip(lineEndCases),
		refusalCase{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
		refusalCase{"header too large", "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a", 2000), 431},
		refusalCase{"body too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413},
	))
}

// Pipelined requests before a refused one are answered first.
func TestGuardPipelined(t *testing.T) {
	_, addr := serveGuarded(t, 0)
	c := dial(t, addr)
	c.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\nHost: x\n\n")
	if a := c.read("POST"); a.status != 200 || a.body != "POST /a body=3 from=127.0.0.1" {
		t.Fatalf("first: %d %q", a.status, a.body)
	}
	if a := c.read("GET"); a.status != 200 || a.body != "GET /b body=0 from=127.0.0.1" {
		t.Fatalf("second: %d %q", a.status, a.body)
	}
	if a := c.read("GET"); a.status != 400 {
		t.Fatalf("bare-LF third: %d %q, want 400", a.status, a.body)
	}
}

// Bodies being received share MaxBufferedBytes, as in TestMaxBufferedBytes;
// a cut-off body gives its reservation back.
func TestGuardMaxBufferedBytes(t *testing.T) {
	g, addr := serveGuarded(t, 100)
	stalled := dial(t, addr)
	stalled.send("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 80\r\n\r\n" + strings.Repeat("a", 10))
	testkit.Eventually(t, 10*time.Second, "the stalled body to be reserved", func() bool { return g.Buffered() == 80 })

	over := dial(t, addr)
	over.send("POST /more HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n")
	if a := over.read("POST"); a.status != 503 || !a.close {
		t.Fatalf("over the budget: %d close=%v %q, want 503 and close", a.status, a.close, a.body)
	}
	small := dial(t, addr)
	small.send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n" + strings.Repeat("b", 20))
	if a := small.read("POST"); a.status != 200 || a.body != "POST /small body=20 from=127.0.0.1" {
		t.Fatalf("within the budget: %d %q", a.status, a.body)
	}
	stalled.send(strings.Repeat("a", 70))
	if a := stalled.read("POST"); a.status != 200 || a.body != "POST /big body=80 from=127.0.0.1" {
		t.Fatalf("finished stalled body: %d %q", a.status, a.body)
	}
	testkit.Eventually(t, 10*time.Second, "the reservations to be given back", func() bool { return g.Buffered() == 0 })

	cut := dial(t, addr)
	cut.send("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
	testkit.Eventually(t, 10*time.Second, "the cut body to be reserved", func() bool { return g.Buffered() == 100 })
	cut.c.Close()
	testkit.Eventually(t, 10*time.Second, "the cut body's reservation to be given back", func() bool { return g.Buffered() == 0 })
}

// FuzzGuardScan: the guard's framing never panics, never passes on more
// than it read, refuses only with the errors the error handler knows, and
// gives every reservation back.
func FuzzGuardScan(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\ncontent-length:  99999999999999999999\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\rX\n\n", "\r\n\r\nGET /\n",
	} {
		f.Add([]byte(s), 5)
	}
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		g := evhttp.NewGuard(evhttp.Config{MaxHeaderBytes: 256, MaxBodyBytes: 64, MaxBufferedBytes: 100})
		ok, err := evhttp.GuardScan(g, b, split)
		if ok < 0 || ok > len(b) {
			t.Fatalf("passed on %d of %d bytes", ok, len(b))
		}
		known := []error{evhttp.ErrNotHTTP11, evhttp.ErrHeaderTooLarge, evhttp.ErrBodyTooLarge, evhttp.ErrLengthRequired, evhttp.ErrBusy}
		if err != nil && !slices.ContainsFunc(known, func(e error) bool { return errors.Is(err, e) }) {
			t.Fatalf("refusal the error handler does not know: %v", err)
		}
		if g.Buffered() != 0 {
			t.Fatalf("%d bytes still reserved after close", g.Buffered())
		}
	})
}
