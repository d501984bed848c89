package devstack_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/devtools/devstack"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// syncBuffer is written by the summary goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDevStackBlocksBots is `make run --traffic log` in a test: the
// embedded broker, every service and the simulated shop's access log,
// until the summary shows a blocked bot.
func TestDevStackBlocksBots(t *testing.T) {
	out := runUntil(t, devstack.TrafficLog, func(s string) bool { return strings.Contains(s, "    BLOCK ") })
	if !strings.Contains(out, "(shipped ") {
		t.Fatalf("the summary does not count shipped events:\n%s", out)
	}
}

// challengesRe finds the summary's challenge counts.
var challengesRe = regexp.MustCompile(`challenges issued ([0-9]+), passed ([0-9]+), failed ([0-9]+)`)

// TestDevStackGateLoop is `make run` in a test: simulated visitors through
// the gate to the built-in shop, the gate's request events scored, until
// the summary shows a blocked bot and challenges the gate issued and that
// a bot failed.
func TestDevStackGateLoop(t *testing.T) {
	out := runUntil(t, devstack.TrafficGate, func(s string) bool {
		for _, m := range challengesRe.FindAllStringSubmatch(s, -1) {
			if m[1] != "0" && m[3] != "0" && strings.Contains(s, "    BLOCK ") {
				return true
			}
		}
		return false
	})
	for _, want := range []string{"simulated visitors -> gate http://127.0.0.1:", "(published by the gate "} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
}

// runUntil runs the dev stack until its output satisfies done, then stops
// it as Ctrl-C does and returns the output.
func runUntil(t *testing.T, traffic string, reached func(string) bool) string {
	if testing.Short() {
		t.Skip("runs the whole pipeline for up to a minute")
	}
	t.Setenv("BULWARK_SIDECAR_ADDR", "127.0.0.1:0")
	t.Setenv("BULWARK_SIDECAR_GRPC_ADDR", "off")
	t.Setenv("BULWARK_GATE_ADDR", "127.0.0.1:0")
	t.Setenv("BULWARK_CONSOLE_ADDR", "127.0.0.1:0")
	out := &syncBuffer{}
	o := devstack.Options{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Partitions: 2, Traffic: traffic,
		AdminAddr: "127.0.0.1:0", SummaryEvery: time.Second,
		Kafka: kafka.Config{ClientID: "bulwark-dev-test", DialTimeout: 5 * time.Second, Topics: kafka.DefaultTopics()},
		Out:   out,
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- devstack.Run(ctx, o) }()

	defer cancel()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bulwark dev printed:\n%s", out.String())
		}
	})
	testkit.Eventually(t, 90*time.Second, "the summary line asked for", func() bool {
		select {
		case err := <-done:
			t.Fatalf("dev stack stopped early: %v\n%s", err, out.String())
		default:
		}
		return reached(out.String())
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev stack: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("dev stack did not stop within 60s of Ctrl-C")
	}
	if !strings.Contains(out.String(), "bulwark dev: stopped") {
		t.Fatalf("no clean stop:\n%s", out.String())
	}
	return out.String()
}
