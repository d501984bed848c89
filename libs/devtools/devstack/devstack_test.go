package devstack_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/devtools/devstack"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
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

// TestDevStackBlocksBots is `make run` in a test: the embedded broker, every
// service and the simulated shop, until the summary shows a blocked bot.
func TestDevStackBlocksBots(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline for up to a minute")
	}
	t.Setenv("BULWARK_SIDECAR_ADDR", "127.0.0.1:0")
	t.Setenv("BULWARK_SIDECAR_GRPC_ADDR", "off")
	t.Setenv("BULWARK_CONSOLE_ADDR", "127.0.0.1:0")
	out := &syncBuffer{}
	o := devstack.Options{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Partitions: 2,
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

	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(out.String(), "    BLOCK ") {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("dev stack stopped early: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no bot blocked within 90s:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
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
}
