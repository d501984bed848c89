package httpguard_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar/internal/httpguard"
)

// echo answers "<method> <uri> body=<n> from=<ip>"; /panic panics and
// /close asks for the connection to close.
func echo(c *fasthttp.RequestCtx) {
	switch string(c.Path()) {
	case "/panic":
		panic("handler bug")
	case "/close":
		c.SetConnectionClose()
	}
	host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	fmt.Fprintf(c, "%s %s body=%d from=%s", c.Method(), c.RequestURI(), len(c.PostBody()), host)
}

// serve runs a Server on a loopback port until the test ends. Its read
// timeout is an hour unless mod sets one: an answer cannot come from it.
func serve(t *testing.T, mod func(*httpguard.Config)) (*httpguard.Server, string) {
	t.Helper()
	cfg := httpguard.Config{Handler: echo, MaxHeaderBytes: 1024, MaxBodyBytes: 1 << 20, ReadTimeout: time.Hour}
	if mod != nil {
		mod(&cfg)
	}
	s, err := httpguard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, served := run(t, s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := wait(served); err != nil {
			t.Error(err)
		}
	})
	return s, addr
}

// run serves s on a loopback port until the test ends.
func run(t *testing.T, s *httpguard.Server) (addr string, served <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	return ln.Addr().String(), done
}

// wait is Serve's error, or one saying it did not return.
func wait(served <-chan error) error {
	select {
	case err := <-served:
		if err != nil {
			return fmt.Errorf("Serve: %w", err)
		}
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("Serve did not return after Shutdown")
	}
}

// raw is a client connection that writes bytes as given and reads
// responses one by one.
type raw struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &raw{t, c, bufio.NewReader(c)}
}

func (r *raw) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

type answer struct {
	status int
	body   string
	close  bool
	header http.Header
}

func (r *raw) read(method string) answer {
	r.t.Helper()
	resp, err := http.ReadResponse(r.r, &http.Request{Method: method})
	if err != nil {
		r.t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("read body: %v", err)
	}
	return answer{resp.StatusCode, string(b), resp.Close, resp.Header}
}

// closed reports whether the server has closed the connection.
func (r *raw) closed() bool {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := r.r.ReadByte()
	return err == io.EOF || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "connection reset") }

// Pipelined requests with bodies and a stray CRLF are answered in order on
// the same connection through the guard.
func TestPipelinedKeepAlive(t *testing.T) {
	_, addr := serve(t, nil)
	c := dial(t, addr)
	c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
		"\r\n" + // a stray CRLF between requests is ignored
		"GET /c?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"GET /a body=0 from=127.0.0.1", "POST /b body=5 from=127.0.0.1", "GET /c?q=1 body=0 from=127.0.0.1"} {
		if a := c.read("GET"); a.status != 200 || a.body != want || a.close {
			t.Fatalf("got %d %q close=%v, want 200 %q", a.status, a.body, a.close, want)
		}
	}
	c.send("GET /d HTTP/1.1\r\nHost: x\r\n\r\n")
	if a := c.read("GET"); a.body != "GET /d body=0 from=127.0.0.1" {
		t.Fatalf("after pipelining: %q", a.body)
	}
}

// A handler's panic is a 500 on its own connection; the server serves on.
func TestHandlerPanic(t *testing.T) {
	_, addr := serve(t, nil)
	c := dial(t, addr)
	c.send("GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
	if a := c.read("GET"); a.status != 500 || !a.close {
		t.Fatalf("panic: %d close=%v", a.status, a.close)
	}
	c = dial(t, addr)
	c.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	if a := c.read("GET"); a.status != 200 {
		t.Fatalf("after a panic: %d", a.status)
	}
}

func TestTimeouts(t *testing.T) {
	_, addr := serve(t, func(c *httpguard.Config) { c.IdleTimeout, c.ReadTimeout = time.Second, time.Second })
	idle := dial(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.read("GET")
	slow := dial(t, addr)
	slow.send("GET / HTTP/1.1\r\nHo")
	start := time.Now()
	if !idle.closed() {
		t.Fatal("idle connection left open")
	}
	if a := slow.read("GET"); a.status != 408 || !a.close {
		t.Fatalf("unfinished request: %d close=%v %q, want 408 and close", a.status, a.close, a.body)
	}
	if !slow.closed() {
		t.Fatal("unfinished connection left open")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

// Shutdown closes idle connections, lets a request being received finish
// (its answer closes the connection), and makes Serve return nil.
func TestShutdown(t *testing.T) {
	s, err := httpguard.New(httpguard.Config{Handler: echo})
	if err != nil {
		t.Fatal(err)
	}
	addr, served := run(t, s)

	idle := dial(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.read("GET")
	busy := dial(t, addr)
	busy.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
	waitFor(t, "the server to see the partial request", func() bool { return s.Guard().Buffered() == 4 })

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- s.Shutdown(ctx)
	}()
	if !idle.closed() {
		t.Fatal("idle connection left open")
	}
	busy.send("cd")
	if a := busy.read("POST"); a.status != 200 || a.body != "POST / body=4 from=127.0.0.1" || !a.close {
		t.Fatalf("request finished during shutdown: %d %q close=%v", a.status, a.body, a.close)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := wait(served); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

// A shutdown that runs out of time closes the connections still open.
func TestShutdownTimeout(t *testing.T) {
	s, err := httpguard.New(httpguard.Config{Handler: echo, ReadTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	addr, served := run(t, s)
	busy := dial(t, addr)
	busy.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
	waitFor(t, "the server to see the partial request", func() bool { return s.Guard().Buffered() == 4 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	if !busy.closed() {
		t.Fatal("connection left open after the shutdown ran out of time")
	}
	if err := wait(served); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reservation to be given back", func() bool { return s.Guard().Buffered() == 0 })
}

// Shutdown before Serve: Serve returns at once.
func TestShutdownBeforeServe(t *testing.T) {
	s, err := httpguard.New(httpguard.Config{Handler: echo})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, served := run(t, s)
	if err := wait(served); err != nil {
		t.Fatal(err)
	}
}

// Many clients at once through net/http's client, as nginx's keep-alive
// pool would be.
func TestConcurrentClients(t *testing.T) {
	_, addr := serve(t, nil)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				body := strings.Repeat("x", i)
				resp, err := client.Post(fmt.Sprintf("http://%s/g%d/%d", addr, g, i), "text/plain", strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := fmt.Sprintf("POST /g%d/%d body=%d from=127.0.0.1", g, i, i); string(b) != want {
					errs <- fmt.Errorf("got %q, want %q", b, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A client that pipelines requests and never reads the answers is closed
// once the server's write has waited WriteTimeout.
func TestUnreadAnswers(t *testing.T) {
	_, addr := serve(t, func(c *httpguard.Config) { c.WriteTimeout = time.Second })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	reqs := []byte(strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1000))
	for range 2000 { // 56 MB of requests, some 40 MB of answers
		if _, err := c.Write(reqs); err != nil {
			return // closed by the server, as it should be
		}
	}
	t.Fatal("the server kept answering a client that reads nothing")
}
