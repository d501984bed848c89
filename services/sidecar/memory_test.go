package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// TestMemoryUnderStalledBodies runs the real binary against connections that
// each send a POST /v1/verdicts header and 1 MB of body, then stall (issue
// 13, item 2: 300 such connections took the sidecar from 27 MB to 1.25 GB).
// A Content-Length over the endpoint's 1 MiB is refused at the header; one
// within it reserves its length from BULWARK_SIDECAR_MAX_BUFFERED_BYTES, and
// the connections past that are refused. Either way the sidecar stays under
// 300 MB RSS, /v1/authz keeps answering another client, and the memory is
// given back once the connections close.
func TestMemoryUnderStalledBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	raiseFileLimit(t, 2*2000+512)
	bin := filepath.Join(t.TempDir(), "bulwark-sidecar")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	broker := kafkatest.Start(t)
	addr := freeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"BULWARK_KAFKA_BROKERS="+broker.Addr(),
		"BULWARK_SIDECAR_ADDR="+addr,
		"BULWARK_SIDECAR_GRPC_ADDR=off",
		"BULWARK_LOG_LEVEL=warn",
	)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	client := &http.Client{Timeout: 2 * time.Second}
	testkit.Eventually(t, 30*time.Second, "the sidecar ready", func() bool {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	idle := rss(t, cmd.Process.Pid)
	t.Logf("idle RSS %d MB", idle>>20)

	const limit = 300 << 20
	for _, tc := range []struct {
		conns         int
		contentLength int
	}{
		{300, 8_000_000},
		{2000, 8_000_000},
		{300, 1 << 20},
		{2000, 1 << 20},
	} {
		t.Run(fmt.Sprintf("%d conns, Content-Length %d", tc.conns, tc.contentLength), func(t *testing.T) {
			conns := attack(t, addr, tc.conns, tc.contentLength)
			peak := rss(t, cmd.Process.Pid)
			// Another client is answered while the attack holds its
			// connections.
			for i := range 20 {
				resp, err := client.Get("http://" + addr + "/v1/authz")
				if err != nil {
					t.Fatalf("authz %d during the attack: %v", i, err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					t.Fatalf("authz %d during the attack: %d", i, resp.StatusCode)
				}
				peak = max(peak, rss(t, cmd.Process.Pid))
			}
			t.Logf("RSS during the attack: %d MB", peak>>20)
			if peak > limit {
				t.Fatalf("RSS %d MB during the attack, over %d MB", peak>>20, limit>>20)
			}
			for _, c := range conns {
				c.Close()
			}
			// Memory comes back: within seconds the RSS is within 24 MB
			// of where it was before (the bodies held reach 64 MB).
			var r int
			testkit.Eventually(t, 15*time.Second, fmt.Sprintf("RSS back within 24 MB of idle (%d MB)", idle>>20), func() bool {
				r = rss(t, cmd.Process.Pid)
				return r < idle+24<<20
			})
			t.Logf("RSS after the connections closed: %d MB", r>>20)
		})
	}
}

// attack opens n connections that each send a batch request header with
// Content-Length cl, then 1,000,000 bytes of body (or until the sidecar
// refuses and closes), then stall. It returns the connections still open.
func attack(t *testing.T, addr string, n, cl int) []net.Conn {
	t.Helper()
	header := fmt.Sprintf("POST /v1/verdicts HTTP/1.1\r\nHost: sidecar\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", cl)
	body := bytes.Repeat([]byte(" "), 1_000_000)
	var (
		mu       sync.Mutex
		conns    []net.Conn
		refused  int
		dialErrs int
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, 200) // dial in waves, not past the listen backlog
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				mu.Lock()
				dialErrs++
				mu.Unlock()
				return
			}
			_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			_, err = c.Write([]byte(header))
			if err == nil {
				_, err = c.Write(body)
			}
			mu.Lock()
			defer mu.Unlock()
			conns = append(conns, c)
			if err != nil {
				refused++
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	if dialErrs > 0 {
		t.Fatalf("%d of %d connections could not be opened", dialErrs, n)
	}
	t.Logf("%d connections sent the header and body or were cut off (%d cut off while sending)", len(conns), refused)
	return conns
}

// rss is the process's resident set size in bytes (VmRSS).
func rss(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// raiseFileLimit makes room for n open files in this process (and the
// sidecar it starts, which inherits the limit), or skips the test.
func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Skipf("open file limit %d (hard), need %d", lim.Max, n)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raise the open file limit to %d: %v", n, err)
	}
}

// freeAddr is a loopback address with a port free at the time of the call.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
