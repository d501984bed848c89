package logparse

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// TestRealNginx runs Debian's nginx on a loopback port with the stock
// combined format, the two extended variants and deploy/nginx's JSON format,
// sends it ordinary and hostile requests, and parses what nginx wrote.
func TestRealNginx(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			t.Skip("nginx is not installed (Debian package nginx); CI installs it")
		}
		bin = "/usr/sbin/nginx"
	}
	jsonConf, err := filepath.Abs("../../../deploy/nginx/log-format-json.conf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(jsonConf); err != nil {
		t.Fatalf("JSON log format: %v", err)
	}
	dir := t.TempDir()
	port := freePort(t)
	listen6 := ""
	if l, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		l.Close()
		listen6 = fmt.Sprintf("listen [::1]:%d;", port)
	}
	conf := fmt.Sprintf(`
daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  include %[2]s;
  log_format combined_rt '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$http_x_forwarded_for"';
  log_format main '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"';
  server {
    listen 127.0.0.1:%[3]d;
    %[4]s
    access_log %[1]s/combined.log combined;
    access_log %[1]s/rt.log combined_rt;
    access_log %[1]s/main.log main;
    access_log %[1]s/json.log bulwark_json;
    location / { return 200 "ok\n"; }
  }
}
`, dir, jsonConf, port, listen6)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(t, addr, &stderr, dir)

	// 1: a browser-like request through a proxy, with a session cookie.
	req, _ := http.NewRequest("GET", "http://"+addr+"/shop?q=1", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (bulwark test)")
	req.Header.Set("Referer", "https://example.com/")
	req.Header.Set("Accept-Language", "de-DE,de;q=0.9")
	req.Header.Set("Cookie", "session=abc123; other=1")
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// 2: a TLS ClientHello sent to the plain-HTTP port.
	raw(t, addr, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\x01")
	// 3: UTF-8 in the path, quotes and a backslash in the user agent.
	raw(t, addr, "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: shop\r\nUser-Agent: a \"q\" \\b\r\nConnection: close\r\n\r\n")
	// 4: a user agent that is not UTF-8.
	raw(t, addr, "GET /latin1 HTTP/1.1\r\nHost: shop\r\nUser-Agent: caf\xe9\r\nConnection: close\r\n\r\n")
	want := 4
	if listen6 != "" {
		// 5: over IPv6.
		raw(t, fmt.Sprintf("[::1]:%d", port), "GET /v6 HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
		want = 5
	}

	logs := map[string][][]byte{}
	for _, name := range []string{"combined", "rt", "main", "json"} {
		logs[name] = waitLines(t, filepath.Join(dir, name+".log"), want)
	}

	parseAll := func(name string, f Format, opts Options) ([]*eventpb.RequestEvent, []error) {
		p := mustNew(t, f, opts)
		var evs []*eventpb.RequestEvent
		var errs []error
		for _, l := range logs[name] {
			var ev eventpb.RequestEvent
			if err := p.Parse(l, &ev); err != nil {
				errs = append(errs, err)
				evs = append(evs, nil)
				continue
			}
			checkEvent(t, &ev)
			evs = append(evs, Clone(&ev))
		}
		return evs, errs
	}

	for _, name := range []string{"combined", "rt", "main"} {
		evs, errs := parseAll(name, FormatNginx, Options{})
		if len(errs) != 0 {
			t.Fatalf("%s.log: rejected %v\n%s", name, errs, bytes.Join(logs[name], []byte("\n")))
		}
		e := evs[0]
		if e.ClientIp != "127.0.0.1" || e.Method != "GET" || e.Path != "/shop" || e.Query != "q=1" ||
			e.Protocol != "HTTP/1.1" || e.Status != 200 || e.ResponseBytes != 3 ||
			e.UserAgent != "Mozilla/5.0 (bulwark test)" || e.Referer != "https://example.com/" {
			t.Fatalf("%s.log request 1: %v", name, e)
		}
		if d := time.Since(time.Unix(0, e.TimeUnixNano)); d < -time.Minute || d > time.Minute {
			t.Fatalf("%s.log: event time off by %v", name, d)
		}
		if e := evs[1]; e.Method != "" || e.Status != 400 || !strings.HasPrefix(e.Path, `\x16\x03\x01`) || e.Malformed != MalformedBadBytes {
			t.Fatalf("%s.log TLS junk: %v", name, e)
		}
		if e := evs[2]; e.Path != "/café" || e.UserAgent != `a "q" \b` {
			t.Fatalf("%s.log UTF-8 path: %v", name, e)
		}
		if e := evs[3]; e.UserAgent != `caf\xE9` || e.Malformed != MalformedBadBytes {
			t.Fatalf("%s.log latin-1 agent: %v", name, e)
		}
		if want == 5 && evs[4].ClientIp != "::1" {
			t.Fatalf("%s.log IPv6: %v", name, evs[4])
		}
		hasRT, hasXFF := name == "rt", name != "combined"
		if (evs[0].RequestTimeSeconds != nil) != hasRT {
			t.Fatalf("%s.log request time: %v", name, evs[0])
		}
		if hasXFF && evs[0].ForwardedFor != "198.51.100.7" {
			t.Fatalf("%s.log forwarded for: %v", name, evs[0])
		}
	}

	// Behind a trusted proxy (loopback), the forwarded address is the client.
	trusted, _ := clientip.ParseCIDRs("127.0.0.0/8,::1")
	evs, _ := parseAll("rt", FormatNginx, Options{ClientIP: clientip.New(trusted)})
	if evs[0].ClientIp != "198.51.100.7" || evs[0].RemoteAddr != "127.0.0.1" || evs[2].ClientIp != "127.0.0.1" {
		t.Fatalf("trusted proxy: %v / %v", evs[0], evs[2])
	}

	// The JSON format: everything, the line nginx wrote with raw non-UTF-8
	// bytes (escape=json passes them through) too, escaped and malformed.
	evs, errs := parseAll("json", FormatNginxJSON, Options{})
	if len(errs) != 0 || evs[3].UserAgent != `caf\xE9` || evs[3].Malformed != MalformedBadBytes {
		t.Fatalf("json.log rejects: %v\n%s", errs, bytes.Join(logs["json"], []byte("\n")))
	}
	e := evs[0]
	if e.ClientIp != "127.0.0.1" || e.Method != "GET" || e.Path != "/shop" || e.Query != "q=1" ||
		e.Protocol != "HTTP/1.1" || e.Status != 200 || e.ResponseBytes != 3 || e.Host != "127.0.0.1" ||
		e.UserAgent != "Mozilla/5.0 (bulwark test)" || e.Referer != "https://example.com/" ||
		e.GetAcceptLanguage() != "de-DE,de;q=0.9" || e.SessionId != "abc123" ||
		e.ForwardedFor != "198.51.100.7" || e.RequestTimeSeconds == nil {
		t.Fatalf("json.log request 1: %v", e)
	}
	if e := evs[1]; e.Status != 400 || e.Method != "" {
		t.Fatalf("json.log TLS junk: %v", e)
	}
	if e := evs[2]; e.Path != "/café" || e.UserAgent != `a "q" \b` {
		t.Fatalf("json.log UTF-8 path: %v", e)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, addr string, stderr *bytes.Buffer, dir string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Fatalf("nginx did not listen on %s: %s %s", addr, stderr, errLog)
}

// raw sends bytes on a fresh connection and reads until nginx closes it.
func raw(t *testing.T, addr, data string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

func waitLines(t *testing.T, path string, n int) [][]byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		if len(data) > 0 && len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want %d lines, have:\n%s", path, n, data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
