package evhttp_test

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar/internal/evhttp"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// Request line and line-end forms: HTTP/0.9, bare LF and bare CR are
// refused at once (fasthttp's parser, and its own server, take CRLF only).
// The read timeout is an hour, so an answer cannot come from it.
func TestLineEnds(t *testing.T) {
	_, addr := serve(t, func(c *evhttp.Config) { c.ReadTimeout = time.Hour })
	checkRefusals(t, addr, lineEndCases)
}

// lineEndCases are requests with their line ends and request lines, and
// the status each gets.
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

type refusalCase struct {
	name, req string
	status    int
}

// checkRefusals sends each case on a connection of its own: the status
// must be the case's, and a refused request's connection closed.
func checkRefusals(t *testing.T, addr string, cases []refusalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(tc.req)
			a := c.read("GET")
			if a.status != tc.status {
				t.Fatalf("got %d %q, want %d", a.status, a.body, tc.status)
			}
			if tc.status != 200 && !c.closed() {
				t.Fatal("connection left open after a malformed request")
			}
		})
	}
}

// Bodies being received share MaxBufferedBytes: a request whose
// Content-Length does not fit gets 503 at once, and fits again once the
// others are done.
func TestMaxBufferedBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, addr := serve(t, func(c *evhttp.Config) { c.MaxBufferedBytes, c.Registerer = 100, reg })
	stalled := dial(t, addr)
	stalled.send("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 80\r\n\r\n" + strings.Repeat("a", 10))
	testkit.Eventually(t, 10*time.Second, "the stalled body to be held", func() bool { return s.Receiving() == 1 })
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
	reg := prometheus.NewRegistry()
	s, addr := serve(t, func(c *evhttp.Config) { c.MaxBufferedBytes, c.Registerer = 100, reg })
	c := dial(t, addr)
	c.send("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
	testkit.Eventually(t, 10*time.Second, "the body to be held", func() bool { return s.Receiving() == 1 })
	c.c.Close()
	testkit.Eventually(t, 10*time.Second, "the reservation to be released", func() bool {
		return testkit.Metric(t, reg, "bulwark_http_buffered_body_bytes") == 0
	})
	d := dial(t, addr)
	d.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("z", 100))
	if a := d.read("POST"); a.status != 200 {
		t.Fatalf("after the cut-off body: %d %q", a.status, a.body)
	}
}

// Over MaxConns a new connection gets 503 and is closed; once one closes,
// connections are served again.
func TestMaxConns(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, addr := serve(t, func(c *evhttp.Config) { c.MaxConns, c.Registerer = 2, reg })
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
	held[0].c.Close()
	// Until the server has seen the close, a new connection is refused (and
	// may be reset under the request it sent): try again.
	testkit.Eventually(t, 10*time.Second, "a connection to be served after one closed", func() bool {
		c := dial(t, addr)
		defer c.c.Close()
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(c.r, nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
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
		s, err := evhttp.New(evhttp.Config{Handler: echo, MaxConns: int(tc.asked)})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.MaxConns(); got != tc.want {
			t.Errorf("MaxConns %d under a limit of 1,000 files: %d, want %d", tc.asked, got, tc.want)
		}
	}
}
