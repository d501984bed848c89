package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestKillNineMidFile ships a large file with the real binary, kills it
// with SIGKILL in the middle, starts it again, and checks every line arrived
// exactly once: no loss, no duplicate.
func TestKillNineMidFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bulwark-shipper")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const n = 300_000
	logPath := filepath.Join(dir, "access.log")
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `203.0.113.%d - - [21/Nov/2026:10:%02d:%02d +0000] "GET /p/%d HTTP/1.1" 200 99 "-" "Mozilla/5.0"`+"\n", i%200+1, i/60%60, i%60, i)
	}
	if err := os.WriteFile(logPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	broker := kafkatest.Start(t)
	env := append(os.Environ(),
		"BULWARK_KAFKA_BROKERS="+broker.Addr(),
		"BULWARK_SHIPPER_FILES="+logPath,
		"BULWARK_SHIPPER_CHECKPOINT_FILE="+filepath.Join(dir, "checkpoints.json"),
		"BULWARK_SHIPPER_CHECKPOINT_INTERVAL=100ms",
		"BULWARK_SHIPPER_METRICS_ADDR=127.0.0.1:0",
		"BULWARK_LOG_LEVEL=warn",
	)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Env = env
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	adm := kadm.NewClient(kafkatest.Client(t, broker))
	produced := func() int64 {
		ends, err := adm.ListEndOffsets(context.Background(), "bulwark.requests.v1")
		if err != nil {
			return 0
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
		return sum
	}

	first := start()
	t.Cleanup(func() {
		if first.ProcessState == nil { // the test failed before the kill
			first.Process.Kill()
			first.Wait()
		}
	})
	testkit.Eventually(t, 60*time.Second, fmt.Sprintf("the shipper to produce %d records", n/4), func() bool { return produced() >= n/4 })
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	atKill := produced()
	if atKill >= n {
		t.Fatalf("the file was fully shipped (%d) before the kill; the test needs a bigger file", atKill)
	}
	t.Logf("killed after %d of %d records", atKill, n)

	second := start()
	t.Cleanup(func() {
		if second.ProcessState == nil {
			second.Process.Signal(syscall.SIGTERM)
			second.Wait()
		}
	})

	seen := make([]uint8, n)
	cl := kafkatest.Client(t, broker, kgo.ConsumeTopics("bulwark.requests.v1"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	got := 0
	var ev eventpb.RequestEvent
	for got < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d distinct lines of %d before the deadline", got, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if err := proto.Unmarshal(r.Value, &ev); err != nil {
				t.Fatalf("decode: %v", err)
			}
			var i int
			fmt.Sscanf(ev.Path, "/p/%d", &i)
			if seen[i]++; seen[i] == 1 {
				got++
			} else {
				t.Errorf("line %d (offset %d) shipped twice", i, ev.SourceOffset)
			}
		})
	}
	// Nothing more may arrive: stopped with SIGTERM the shipper flushes
	// everything it read before it exits, so the end offsets are final.
	second.Process.Signal(syscall.SIGTERM)
	if err := second.Wait(); err != nil {
		t.Fatalf("shipper after SIGTERM: %v", err)
	}
	if total := produced(); total != n {
		t.Fatalf("requests topic holds %d records, want exactly %d", total, n)
	}
}
