package main_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestCopytruncate runs the real binary through logrotate's copytruncate
// (cp access.log access.log.1; truncate -s 0 access.log) after it shipped
// 1,000 lines and 500 more were written, while it is stopped, paused
// (SIGSTOP) or cut off from Kafka, with the new content shorter or longer
// than the old offset. Every line must arrive exactly once, none torn into
// the dead-letter topic.
func TestCopytruncate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildShipper(t) // subtest names make file paths: no commas (BULWARK_SHIPPER_FILES splits on them)
	for _, tc := range []struct {
		name  string
		while string // stopped, paused, kafka-down
		after int    // lines written after the truncation
	}{
		{"stopped", "stopped", 300},
		{"stopped and grown past the offset", "stopped", 1300},
		{"paused", "paused", 300},
		{"paused and grown past the offset", "paused", 1300},
		{"kafka down", "kafka-down", 300},
		{"kafka down and grown past the offset", "kafka-down", 1300},
		// logrotate's compress without delaycompress: the copy is gzip'd
		// (by gzip, as logrotate runs it) before the shipper reads it.
		{"stopped and the copy compressed", "stopped-compressed", 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, bin)
			if tc.while == "kafka-down" {
				// A small buffer: with Kafka away the shipper stops reading
				// early, so most of the 500 lines exist only in the copy.
				h.env = append(h.env, "BULWARK_SHIPPER_MAX_BUFFERED_RECORDS=100")
			}
			h.write(0, 1000)
			h.start()
			h.waitProduced(1000)
			switch tc.while {
			case "stopped", "stopped-compressed":
				h.stop()
				h.write(1000, 1500)
				h.copytruncate()
				if tc.while == "stopped-compressed" {
					if out, err := exec.Command("gzip", h.log+".1").CombinedOutput(); err != nil {
						t.Fatalf("gzip: %v %s", err, out)
					}
				}
				h.write(1500, 1500+tc.after)
				h.start()
			case "paused":
				h.signal(syscall.SIGSTOP)
				h.write(1000, 1500)
				h.copytruncate()
				h.write(1500, 1500+tc.after)
				h.signal(syscall.SIGCONT)
			case "kafka-down":
				h.broker.Close()
				h.write(1000, 1200)
				h.waitMetricAtLeast("bulwark_shipper_buffered_records", 100) // blocked on Kafka, reading stopped
				h.write(1200, 1500)                                          // exists only in the file, then only in the copy
				h.copytruncate()
				h.write(1500, 1500+tc.after)
				h.restartBroker()
			}
			h.waitProduced(int64(1500 + tc.after))
			h.stop() // everything acknowledged is in Kafka now: the counts below are final
			h.checkExactly(1500 + tc.after)
		})
	}
}

func buildShipper(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bulwark-shipper")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// harness is one shipper binary following one log, with its own broker.
type harness struct {
	t          *testing.T
	bin, dir   string
	log        string
	env        []string // added to the shipper's environment
	metrics    string
	broker     *embedkafka.Broker
	brokerAddr string
	kcfg       kafka.Config
	cmd        *exec.Cmd
	adm        *kadm.Client
	admClient  *kgo.Client
}

func newHarness(t *testing.T, bin string) *harness {
	dir := t.TempDir()
	h := &harness{t: t, bin: bin, dir: dir, log: filepath.Join(dir, "access.log"), metrics: freeAddr(t)}
	b, err := embedkafka.Start(context.Background(), embedkafka.Config{DataDir: filepath.Join(dir, "kafka"), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	h.broker, h.brokerAddr, h.kcfg = b, b.Addr(), kafkatest.Config(b)
	t.Cleanup(func() { h.broker.Close() })
	t.Cleanup(func() {
		if h.cmd != nil {
			h.cmd.Process.Signal(syscall.SIGCONT)
			h.cmd.Process.Kill()
			h.cmd.Wait()
		}
	})
	return h
}

func (h *harness) restartBroker() {
	b, err := embedkafka.Start(context.Background(), embedkafka.Config{DataDir: filepath.Join(h.dir, "kafka"), Listen: h.brokerAddr})
	if err != nil {
		h.t.Fatalf("restart broker: %v", err)
	}
	h.broker = b
	if h.admClient != nil {
		h.admClient.Close()
		h.admClient, h.adm = nil, nil
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func line(i int) string {
	return fmt.Sprintf(`203.0.113.%d - - [03/Dec/2026:07:%02d:%02d +0000] "GET /p/%d HTTP/1.1" 200 99 "-" "Mozilla/5.0"`+"\n", i%200+1, i/60%60, i%60, i)
}

func (h *harness) write(from, to int) {
	h.t.Helper()
	f, err := os.OpenFile(h.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(line(i))
	}
	if _, err := f.WriteString(b.String()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) copytruncate() {
	h.t.Helper()
	if out, err := exec.Command("cp", h.log, h.log+".1").CombinedOutput(); err != nil {
		h.t.Fatalf("cp: %v %s", err, out)
	}
	if err := os.Truncate(h.log, 0); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) start() {
	h.t.Helper()
	cmd := exec.Command(h.bin)
	cmd.Env = append(os.Environ(),
		"BULWARK_KAFKA_BROKERS="+h.brokerAddr,
		"BULWARK_SHIPPER_FILES="+h.log,
		"BULWARK_SHIPPER_CHECKPOINT_FILE="+filepath.Join(h.dir, "checkpoints.json"),
		"BULWARK_SHIPPER_CHECKPOINT_INTERVAL=100ms",
		"BULWARK_SHIPPER_METRICS_ADDR="+h.metrics,
		"BULWARK_LOG_LEVEL=info",
	)
	cmd.Env = append(cmd.Env, h.env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.cmd = cmd
}

func (h *harness) signal(sig syscall.Signal) {
	h.t.Helper()
	if err := h.cmd.Process.Signal(sig); err != nil {
		h.t.Fatalf("signal %v: %v", sig, err)
	}
}

// stop ends the shipper with SIGTERM and waits: it flushes, then exits.
func (h *harness) stop() {
	h.t.Helper()
	h.signal(syscall.SIGTERM)
	if err := h.cmd.Wait(); err != nil {
		h.t.Fatalf("shipper exited with %v", err)
	}
	h.cmd = nil
}

func (h *harness) admin() *kadm.Client {
	if h.adm == nil {
		cl, err := kafka.NewClient(h.kcfg, nil)
		if err != nil {
			h.t.Fatal(err)
		}
		h.admClient, h.adm = cl, kadm.NewClient(cl)
		h.t.Cleanup(func() {
			if h.admClient != nil {
				h.admClient.Close()
			}
		})
	}
	return h.adm
}

// records is the number of records in topic (the sum of its end offsets).
func (h *harness) records(topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ends, err := h.admin().ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, err
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum, nil
}

// waitFor polls cond until it holds (or fails the test after a minute,
// logging the last state cond described).
func (h *harness) waitFor(what string, cond func() (bool, string)) {
	h.t.Helper()
	var state string
	held := false
	defer func() {
		if !held {
			h.t.Logf("waiting for %s: last %s", what, state)
		}
	}()
	testkit.Eventually(h.t, 60*time.Second, what, func() bool {
		var ok bool
		ok, state = cond()
		return ok
	})
	held = true
}

func (h *harness) waitProduced(n int64) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("%d records", n), func() (bool, string) {
		got, err := h.records(h.kcfg.Topics.Requests)
		return err == nil && got >= n, fmt.Sprintf("%d records (%v)", got, err)
	})
}

// waitMetricAtLeast waits until the running shipper's metric name (summed
// over its series) is at least want.
func (h *harness) waitMetricAtLeast(name string, want float64) {
	h.t.Helper()
	page := testkit.Scrape("http://" + h.metrics + "/metrics")
	h.waitFor(name+" >= "+strconv.FormatFloat(want, 'f', -1, 64), func() (bool, string) {
		snap, err := testkit.Snapshot(page)
		if err != nil { // not up yet: keep waiting, say why
			return false, err.Error()
		}
		v := testkit.Metric(h.t, snap, name)
		return v >= want, "at " + strconv.FormatFloat(v, 'f', -1, 64)
	})
}

// checkExactly reads both topics and checks lines 0..n-1 each arrived once,
// nothing else, and no dead letter.
func (h *harness) checkExactly(n int) {
	h.t.Helper()
	if dead, err := h.records(h.kcfg.Topics.RequestsDLQ); err != nil || dead != 0 {
		h.t.Errorf("dead-letter topic holds %d records (%v), want none (a torn line?)", dead, err)
	}
	total, err := h.records(h.kcfg.Topics.Requests)
	if err != nil {
		h.t.Fatal(err)
	}
	cl, err := kafka.NewClient(h.kcfg.WithClientID("check"), nil, kgo.ConsumeTopics(h.kcfg.Topics.Requests), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := make([]int, n)
	var read int64
	var ev eventpb.RequestEvent
	for read < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			h.t.Fatalf("read %d of %d records", read, total)
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			if err := proto.Unmarshal(r.Value, &ev); err != nil {
				h.t.Fatalf("decode: %v", err)
			}
			i, err := strconv.Atoi(strings.TrimPrefix(ev.Path, "/p/"))
			if err != nil || i < 0 || i >= n {
				h.t.Errorf("unexpected record for %q", ev.Path)
				return
			}
			seen[i]++
		})
	}
	var missing, twice []int
	for i, c := range seen {
		switch {
		case c == 0:
			missing = append(missing, i)
		case c > 1:
			twice = append(twice, i)
		}
	}
	if len(missing) > 0 || len(twice) > 0 || total != int64(n) {
		h.t.Fatalf("%d records for %d lines: %d missing (first %v), %d duplicated (first %v)",
			total, n, len(missing), missing[:min(5, len(missing))], len(twice), twice[:min(5, len(twice))])
	}
}
