package httpguard_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar/internal/httpguard"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, what, cond)
}

type refusalCase struct {
	name, req string
	status    int
}

// lineEndCases are requests with their line ends and request lines, and
// the status each gets: HTTP/0.9, bare LF and bare CR are refused at once
// (fasthttp's parser takes CRLF only; its server alone would wait for the
// read timeout).
var lineEndCases = []refusalCase{
	{"CRLF", "GET /x HTTP/1.1\r\nHost: x\r\n\r\n", 200},
	{"bare LF", "GET /x HTTP/1.1\nHost: x\n\n", 400},
	{"bare LF, unfinished", "GET /x HTTP/1.1\nHost: x\n", 400},
	{"mixed", "GET /x HTTP/1.1\r\nHost: x\n\r\n", 400},
	{"HTTP/0.9", "GET /\r\n", 400},
	{"HTTP/0.9, bare LF", "GET /index.html\n", 400},
	{"bare CR", "GET / HTTP/1.1\rHost: x\r\r", 400},
	{"bare CR in a field", "GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n", 400},
	{"no version", "GET / FTP/1.0\r\nHost: x\r\n", 400},
}

// Requests refused at the header: the status, a closed connection. The
// read timeout is an hour, so an answer cannot come from it.
func TestRefusals(t *testing.T) {
	_, addr := serve(t, nil)
	cases := append(slices.Clip(lineEndCases),
		refusalCase{"malformed", "GET / HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n", 400},
		refusalCase{"not HTTP", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400},
		refusalCase{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411},
		refusalCase{"header too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2000) + "\r\n\r\n", 431},
		refusalCase{"header never ends", "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a", 2000), 431},
		refusalCase{"body too large, at the header", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413},
		refusalCase{"bad length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n", 400},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(tc.req)
			a := c.read("GET")
			if a.status != tc.status {
				t.Fatalf("got %d %q, want %d", a.status, a.body, tc.status)
			}
			if tc.status != 200 && !c.closed() {
				t.Fatal("connection left open after a refused request")
			}
		})
	}
}

// Pipelined requests before a refused one are answered first.
func TestPipelinedBeforeRefusal(t *testing.T) {
	_, addr := serve(t, nil)
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

// Bodies being received share MaxBufferedBytes: a request whose
// Content-Length does not fit gets 503 at once, and fits again once the
// others are done.
func TestMaxBufferedBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, addr := serve(t, func(c *httpguard.Config) { c.MaxBufferedBytes, c.Registerer = 100, reg })
	stalled := dial(t, addr)
	stalled.send("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 80\r\n\r\n" + strings.Repeat("a", 10))
	waitFor(t, "the stalled body to be reserved", func() bool { return s.Guard().Buffered() == 80 })
	if got := testkit.Metric(t, reg, "bulwark_http_buffered_body_bytes"); got != 80 {
		t.Fatalf("buffered_body_bytes = %v, want 80", got)
	}

	over := dial(t, addr)
	over.send("POST /more HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n")
	if a := over.read("POST"); a.status != 503 || !a.close {
		t.Fatalf("over the budget: %d close=%v %q, want 503 and close", a.status, a.close, a.body)
	}
	if got := testkit.Metric(t, reg, "bulwark_http_unframed_requests_total"); got != 1 {
		t.Fatalf("unframed_requests_total = %v, want 1", got)
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
	waitFor(t, "the reservations to be given back", func() bool { return s.Guard().Buffered() == 0 })
	if got := testkit.Metric(t, reg, "bulwark_http_buffered_body_bytes"); got != 0 {
		t.Fatalf("buffered_body_bytes after the requests = %v, want 0", got)
	}
	again := dial(t, addr)
	again.send("POST /more HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n" + strings.Repeat("c", 50))
	if a := again.read("POST"); a.status != 200 {
		t.Fatalf("after the budget was freed: %d %q", a.status, a.body)
	}
}

// A connection whose body is cut off gives its reservation back.
func TestBufferedBytesReleasedOnClose(t *testing.T) {
	s, addr := serve(t, func(c *httpguard.Config) { c.MaxBufferedBytes = 100 })
	c := dial(t, addr)
	c.send("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
	waitFor(t, "the body to be reserved", func() bool { return s.Guard().Buffered() == 100 })
	c.c.Close()
	waitFor(t, "the reservation to be given back", func() bool { return s.Guard().Buffered() == 0 })
	d := dial(t, addr)
	d.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("z", 100))
	if a := d.read("POST"); a.status != 200 {
		t.Fatalf("after the cut-off body: %d %q", a.status, a.body)
	}
}

// Over MaxConns a new connection gets the error handler's 503 and is
// closed; once one closes, connections are served again.
func TestMaxConns(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, addr := serve(t, func(c *httpguard.Config) { c.MaxConns, c.Registerer = 2, reg })
	var held []*raw
	for range 2 {
		c := dial(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if a := c.read("GET"); a.status != 200 {
			t.Fatalf("within the limit: %d", a.status)
		}
		held = append(held, c)
	}
	extra := dial(t, addr)
	if a := extra.read("GET"); a.status != 503 || !a.close || !strings.Contains(a.body, "too many connections") {
		t.Fatalf("over the limit: %d close=%v %q", a.status, a.close, a.body)
	}
	if got := testkit.Metric(t, reg, "bulwark_http_refused_connections_total"); got != 1 {
		t.Fatalf("refused_connections_total = %v, want 1", got)
	}
	if got := testkit.Metric(t, reg, "bulwark_http_open_connections"); got != 2 {
		t.Fatalf("open_connections = %v, want 2", got)
	}
	held[0].c.Close()
	waitFor(t, "the server to see the close", func() bool { return s.Guard().Open() == 1 })
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after one closed: %d", resp.StatusCode)
	}
}

// A connection limit above the open-file limit is lowered to fit it, so the
// 503 comes before accept runs out of descriptors.
func TestMaxConnsFitsFileLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 1000
	if lim.Cur < low.Cur {
		t.Skipf("open-file limit %d is already low", lim.Cur)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower the open-file limit: %v", err)
	}
	defer func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) }()
	for _, tc := range []struct{ asked, want int64 }{{10_000, 744}, {500, 500}} {
		g, err := httpguard.NewGuard(httpguard.Config{MaxConns: int(tc.asked)})
		if err != nil {
			t.Fatal(err)
		}
		if got := g.MaxConns(); got != tc.want {
			t.Errorf("MaxConns %d under a limit of 1,000 files: %d, want %d", tc.asked, got, tc.want)
		}
	}
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
		g, err := httpguard.NewGuard(httpguard.Config{MaxHeaderBytes: 256, MaxBodyBytes: 64, MaxBufferedBytes: 100})
		if err != nil {
			t.Fatal(err)
		}
		ok, err := httpguard.GuardScan(g, b, split)
		if ok < 0 || ok > len(b) {
			t.Fatalf("passed on %d of %d bytes", ok, len(b))
		}
		known := []error{httpguard.ErrNotHTTP11, httpguard.ErrHeaderTooLarge, httpguard.ErrBodyTooLarge, httpguard.ErrLengthRequired, httpguard.ErrBusy}
		if err != nil && !slices.ContainsFunc(known, func(e error) bool { return errors.Is(err, e) }) {
			t.Fatalf("refusal the error handler does not know: %v", err)
		}
		if g.Buffered() != 0 {
			t.Fatalf("%d bytes still reserved after close", g.Buffered())
		}
	})
}
