// Package chtest starts Debian's clickhouse-server for tests, on free
// loopback ports with its data in a temporary directory, so tests talk to a
// real server without touching the machine's own one.
package chtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
)

// ErrNoServer means no clickhouse-server binary is installed.
var ErrNoServer = errors.New("clickhouse-server not installed (apt-get install clickhouse-server)")

// Server is a running clickhouse-server child process.
type Server struct {
	Addr     string // native protocol, 127.0.0.1:port
	HTTPAddr string
	dir      string
	bin      string
	cmd      *exec.Cmd
	exited   chan struct{}
}

// Binary finds the server binary: clickhouse-server, or the single
// "clickhouse" binary of newer packages.
func Binary() (path string, args []string, err error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil, nil
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return p, []string{"server"}, nil
	}
	return "", nil, ErrNoServer
}

// Start starts a server whose files live under dir and waits until it
// answers. Close stops it.
func Start(dir string) (*Server, error) {
	bin, _, err := Binary()
	if err != nil {
		return nil, err
	}
	tcp, err := freePort()
	if err != nil {
		return nil, err
	}
	http, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(tcp), HTTPAddr: "127.0.0.1:" + strconv.Itoa(http), dir: dir, bin: bin}
	if err := s.writeConfig(tcp, http); err != nil {
		return nil, err
	}
	if err := s.Restart(); err != nil {
		return nil, err
	}
	return s, nil
}

// StartT starts a server for one test (or skips the test when there is no
// server binary) and stops it with t.Cleanup.
func StartT(t testing.TB) *Server {
	t.Helper()
	s, err := Start(t.TempDir())
	if errors.Is(err, ErrNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Config returns a chschema.Config for the server with database db.
func (s *Server) Config(db string) chschema.Config {
	return chschema.Config{Addr: s.Addr, Database: db, User: "default", DialTimeout: 5 * time.Second}
}

// Restart starts the server process again (after Kill) on the same ports
// and data, and waits until it answers.
func (s *Server) Restart() error {
	if s.cmd != nil {
		return nil // running
	}
	_, args, err := Binary()
	if err != nil {
		return err
	}
	args = append(args, "--config-file="+filepath.Join(s.dir, "config.xml"))
	cmd := exec.Command(s.bin, args...)
	out, err := os.OpenFile(filepath.Join(s.dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = s.dir
	// Its own process group, so a killed test leaves no server behind when
	// the kill reaches the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(s.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "log", "err.log"))
			return fmt.Errorf("clickhouse-server exited at start: %s", tail(log))
		default:
		}
		if s.answers() {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Kill()
	return fmt.Errorf("clickhouse-server on %s did not answer within 60s", s.Addr)
}

// answers reports whether the HTTP interface says Ok (it does only once the
// server has loaded its tables).
func (s *Server) answers() bool {
	c, err := net.DialTimeout("tcp", s.HTTPAddr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("GET /ping HTTP/1.0\r\n\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 512)
	n, _ := c.Read(buf)
	return n > 12 && string(buf[9:12]) == "200"
}

// Kill stops the server at once (SIGKILL), like a crash.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Close stops the server and removes nothing (the directory is the
// caller's, usually t.TempDir).
func (s *Server) Close() { s.Kill() }

func (s *Server) writeConfig(tcp, http int) error {
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			return err
		}
	}
	cfg := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>%[1]s/log/server.log</log>
    <errorlog>%[1]s/log/err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
`, s.dir, tcp, http)
	users := `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(s.dir, "config.xml"), []byte(cfg), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "users.xml"), []byte(users), 0o644)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Wait polls cond until it holds or timeout passes.
func Wait(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}
