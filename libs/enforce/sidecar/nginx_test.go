package sidecar_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

const nginxBin = "/usr/sbin/nginx"

// siteConfig is the example config users copy, with its addresses replaced.
func siteConfig(t *testing.T, sidecarAddr, appAddr, listen string) string {
	t.Helper()
	raw, err := os.ReadFile("../../../deploy/nginx/bulwark-site.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(raw)
	for old, repl := range map[string]string{
		"server 127.0.0.1:8480;": "server " + sidecarAddr + ";",
		"server 127.0.0.1:8080;": "server " + appAddr + ";",
		"listen 80;":             "listen " + listen + ";",
	} {
		if strings.Count(conf, old) != 1 {
			t.Fatalf("deploy/nginx/bulwark-site.conf: want exactly one %q", old)
		}
		conf = strings.Replace(conf, old, repl, 1)
	}
	return conf
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNginx runs Debian's nginx with the example site in front of app.
func startNginx(t *testing.T, sidecarAddr, appAddr string) string {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		t.Skipf("nginx not installed (%s): apt-get install nginx", nginxBin)
	}
	dir := t.TempDir()
	listen := freeAddr(t)
	if err := os.WriteFile(filepath.Join(dir, "bulwark-site.conf"), []byte(siteConfig(t, sidecarAddr, appAddr, listen)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The test's clients all come from 127.0.0.1: they say who they are in
	// X-Forwarded-For, which nginx's realip module turns into $remote_addr,
	// as the example's comment describes for a site behind a balancer.
	main := fmt.Sprintf(`
events { worker_connections 256; }
http {
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    access_log %[1]s/access.log;
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    include %[1]s/bulwark-site.conf;
}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	global := fmt.Sprintf("daemon off; master_process on; worker_processes 1; pid %[1]s/nginx.pid; error_log %[1]s/error.log info;", dir)
	if os.Geteuid() == 0 {
		global += " user root;"
	}
	cmd := exec.Command(nginxBin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", global)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", log)
		}
	})
	testkit.Eventually(t, 20*time.Second, "nginx to listen on "+listen, func() bool { // error.log is logged on failure
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return "http://" + listen
}

func TestNginxAuthRequest(t *testing.T) {
	b := kafkatest.Start(t)
	seed(t, b)

	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream page action=%s", r.Header.Get("X-Bulwark-Action"))
	}))
	defer app.Close()

	cfg := sidecar.DefaultConfig()
	cfg.Addr, cfg.GRPCAddr = "127.0.0.1:0", "off"
	sc, err := sidecar.New(cfg, kafkatest.Config(b), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.EnableChallenges(challengeConfig(), challenge.RandomKeys(), nil, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	defer cancel()
	waitReady(t, sc)

	base := startNginx(t, sc.Addr(), strings.TrimPrefix(app.URL, "http://"))
	client := &http.Client{Timeout: 10 * time.Second}
	f := func(clientIP string, wantStatus int, wantBody string) {
		t.Helper()
		// nginx sends the auth subrequest with the client's method: a POST
		// (a login form) must be checked like a GET.
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequest(method, base+"/some/page", strings.NewReader("user=a&password=b"))
			req.Header.Set("X-Forwarded-For", clientIP)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s through nginx as %s: %v", method, clientIP, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != wantStatus || !strings.Contains(string(body), wantBody) {
				t.Fatalf("%s as %s: %d %q, want %d containing %q", method, clientIP, resp.StatusCode, body, wantStatus, wantBody)
			}
		}
	}
	f("203.0.113.7", 403, "Access denied")                // blocked IP
	f("198.51.100.20", 403, "Access denied")              // blocked network
	f("192.0.2.1", 200, "upstream page action=ALLOW")     // clean
	f("203.0.113.9", 200, "upstream page action=MONITOR") // monitored clients pass
	f("203.0.113.8", 200, `action="/.bulwark/verify"`)    // challenge -> the sidecar's challenge page
	solveThroughNginx(t, client, base, "203.0.113.8")

	// The sidecar goes away: nginx keeps serving (fail-open), even the
	// clients it blocked a moment ago.
	cancel()
	if err := waitRun(t, done); err != nil {
		t.Fatal(err)
	}
	f("192.0.2.1", 200, "upstream page")
	f("203.0.113.7", 200, "upstream page")

	// A sidecar that accepts connections and never answers: after the check's
	// 500 ms read timeout nginx serves the page anyway.
	hung, err := net.Listen("tcp", sc.Addr())
	if err != nil {
		t.Fatalf("listen on the sidecar's address again: %v", err)
	}
	defer hung.Close()
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	f("203.0.113.7", 200, "upstream page")
}
