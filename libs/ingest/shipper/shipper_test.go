package shipper_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// nginxLine is a valid combined line whose path carries i, so every line
// is told apart when counted.
func nginxLine(i int) string {
	return fmt.Sprintf(`198.51.100.%d - - [21/Nov/2026:10:00:%02d +0000] "GET /product/%d HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0"`+"\n", i%250+1, i%60, i)
}

func writeLines(t testing.TB, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(nginxLine(i))
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

func testConfig(files ...string) shipper.Config {
	return shipper.Config{
		Files: files, Format: "nginx", StartAt: "beginning", MaxLineBytes: 4096,
		Compression: "lz4", MaxBufferedRecords: 1000, Linger: time.Millisecond,
		PollInterval: 10 * time.Millisecond, CheckpointInterval: 50 * time.Millisecond, RescanInterval: time.Second, StopTimeout: 10 * time.Second,
	}
}

// collector reads the requests and DLQ topics with an independent client.
type collector struct {
	cl     *kgo.Client
	topics []string
	mu     sync.Mutex
	paths  map[string]int // request path -> times seen
	dead   []*eventpb.DeadLetter
	order  map[int32][]int64          // requests partition -> source offsets, as read
	parts  map[string]int32           // requests key -> partition
	next   map[string]map[int32]int64 // topic -> partition -> next offset to read
}

func collect(t *testing.T, kcfg kafka.Config) *collector {
	t.Helper()
	c := &collector{paths: map[string]int{}, order: map[int32][]int64{}, parts: map[string]int32{}, topics: []string{kcfg.Topics.Requests, kcfg.Topics.RequestsDLQ},
		next: map[string]map[int32]int64{kcfg.Topics.Requests: {}, kcfg.Topics.RequestsDLQ: {}}}
	cl, err := kafka.NewClient(kcfg.WithClientID("collector"), nil,
		kgo.ConsumeTopics(kcfg.Topics.Requests, kcfg.Topics.RequestsDLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	c.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				c.mu.Lock()
				defer c.mu.Unlock()
				c.next[r.Topic][r.Partition] = r.Offset + 1
				if r.Topic == kcfg.Topics.RequestsDLQ {
					var dl eventpb.DeadLetter
					if err := proto.Unmarshal(r.Value, &dl); err == nil {
						c.dead = append(c.dead, &dl)
					}
					return
				}
				var ev eventpb.RequestEvent
				if err := proto.Unmarshal(r.Value, &ev); err != nil {
					t.Errorf("undecodable request record: %v", err)
					return
				}
				if string(r.Key) != ev.ClientIp {
					t.Errorf("record key %q, want the client IP %q", r.Key, ev.ClientIp)
				}
				c.paths[ev.Path]++
				c.parts[string(r.Key)] = r.Partition
				c.order[r.Partition] = append(c.order[r.Partition], ev.SourceOffset)
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return c
}

// waitExactly waits until lines 0..n-1 each arrived once, then proves that
// nothing else was acknowledged: it reads on to the topics' end offsets
// (high watermarks) as they are once the n lines are in, and checks again.
func (c *collector) waitExactly(t *testing.T, n int) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, fmt.Sprintf("%d distinct lines", n), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.paths) >= n
	})
	c.readToEnd(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range n {
		p := fmt.Sprintf("/product/%d", i)
		if c.paths[p] != 1 {
			t.Fatalf("line %d arrived %d times, want exactly once", i, c.paths[p])
		}
	}
	if len(c.paths) != n {
		t.Fatalf("received %d distinct lines, want %d", len(c.paths), n)
	}
}

// readToEnd waits until the collector has read every record acknowledged
// on its topics so far.
func (c *collector) readToEnd(t *testing.T) {
	t.Helper()
	for _, topic := range c.topics {
		end := kafkatest.EndOffsets(t, c.cl, topic)
		testkit.Eventually(t, 30*time.Second, "the collector to read "+topic+" to its end offsets", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return kafkatest.Reached(c.next[topic], end)
		})
	}
}

func runShipper(t *testing.T, cfg shipper.Config, kcfg kafka.Config) (stop func() shipper.Summary) {
	t.Helper()
	s, err := shipper.New(cfg, kcfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return runShipperInstance(t, s)
}

func runShipperInstance(t *testing.T, s *shipper.Shipper) (stop func() shipper.Summary) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	var once sync.Once
	stop = func() shipper.Summary {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("shipper.Run: %v", err)
			}
		})
		return s.Summary()
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestShipFileOnce(t *testing.T) {
	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	path := filepath.Join(t.TempDir(), "access.log")
	writeLines(t, path, 0, 5000)
	// Malformed lines, each with its reason.
	bad := map[string]string{
		"not a log line at all\n": "bad_syntax",
		`198.51.100.1 - - [31/Feb/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"` + "\n": "bad_time",
		// A raw byte in the request is shipped (escaped, marked malformed);
		// one in the client address leaves no client.
		"198.51.\xff.1 - - [21/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n":                                "bad_ip",
		`198.51.100.1 - - [21/Nov/2026:10:00:00 +0000] "GET /` + strings.Repeat("a", 5000) + ` HTTP/1.1" 200 1 "-" "x"` + "\n": "too_long",
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	for line := range bad {
		f.WriteString(line)
	}
	f.Close()

	cfg := testConfig(path)
	cfg.Follow = false
	s, err := shipper.New(cfg, kcfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sum := s.Summary()
	if sum.Read != 5004 || sum.Shipped != 5000 || sum.Rejected != 4 {
		t.Fatalf("summary %+v, want read 5004, shipped 5000, rejected 4", sum)
	}
	c := collect(t, kcfg)
	c.waitExactly(t, 5000) // Run returned: everything is acknowledged, and read to the end
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dead) != len(bad) {
		t.Fatalf("%d dead letters, want %d", len(c.dead), len(bad))
	}
	// Lines are parsed in parallel but produced in file order.
	for p, offs := range c.order {
		if !slices.IsSorted(offs) {
			t.Errorf("partition %d holds the file's lines out of order", p)
		}
	}
	// Each client IP's events are in the partition kgo's (and Kafka's)
	// key partitioner gives it; kafkatest's topics have 4 partitions.
	keyed := kgo.StickyKeyPartitioner(nil).ForTopic(kcfg.Topics.Requests)
	for key, p := range c.parts {
		if want := keyed.Partition(&kgo.Record{Key: []byte(key)}, 4); int(p) != want {
			t.Errorf("key %s in partition %d, want %d", key, p, want)
		}
	}
	for _, dl := range c.dead {
		var want string
		for line, reason := range bad {
			if strings.HasPrefix(line, string(dl.Raw)) {
				want = reason
			}
		}
		if dl.Reason != want || dl.Detail == "" || dl.Source != path {
			t.Errorf("dead letter %q: reason %q (%s), source %q; want reason %q", dl.Raw[:min(40, len(dl.Raw))], dl.Reason, dl.Detail, dl.Source, want)
		}
	}
}

func TestFollowAcrossRotations(t *testing.T) {
	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	writeLines(t, path, 0, 1000)
	cfg := testConfig(path)
	cfg.Follow = true
	cfg.CheckpointFile = filepath.Join(dir, "cp.json")
	stop := runShipper(t, cfg, kcfg)
	c := collect(t, kcfg)
	c.waitExactly(t, 1000)

	// Rename rotation, with a last line written to the old file after the rename.
	os.Rename(path, path+".1")
	writeLines(t, path+".1", 1000, 1100)
	writeLines(t, path, 1100, 2000)
	c.waitExactly(t, 2000)

	// copytruncate.
	data, _ := os.ReadFile(path)
	os.WriteFile(path+".2", data, 0o644)
	os.Truncate(path, 0)
	writeLines(t, path, 2000, 3000) // at once: regrown past the old offset before the shipper looks
	c.waitExactly(t, 3000)
	if sum := stop(); sum.Shipped != 3000 {
		t.Fatalf("summary %+v", sum)
	}
}

func TestRestartResumesWithoutDuplicates(t *testing.T) {
	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	writeLines(t, path, 0, 2000)
	cfg := testConfig(path)
	cfg.Follow = true
	cfg.CheckpointFile = filepath.Join(dir, "cp.json")
	c := collect(t, kcfg)
	stop := runShipper(t, cfg, kcfg)
	c.waitExactly(t, 2000)
	stop()
	writeLines(t, path, 2000, 3000)
	runShipper(t, cfg, kcfg)
	c.waitExactly(t, 3000)
}

func TestBrokerDownThenBack(t *testing.T) {
	dir := t.TempDir()
	b, err := embedkafka.Start(context.Background(), embedkafka.Config{DataDir: filepath.Join(dir, "kafka")})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	kcfg := kafkatest.Config(b)
	path := filepath.Join(dir, "access.log")
	writeLines(t, path, 0, 500)
	cfg := testConfig(path)
	cfg.Follow = true
	cfg.CheckpointFile = filepath.Join(dir, "cp.json")
	s, err := shipper.New(cfg, kcfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := runShipperInstance(t, s)
	c := collect(t, kcfg)
	c.waitExactly(t, 500)

	b.Close() // Kafka goes away; the site keeps logging.
	writeLines(t, path, 500, 5000)
	// The shipper reads on while Kafka is down (until its buffer is full).
	testkit.Eventually(t, 30*time.Second, "the shipper to read lines written while Kafka is down", func() bool { return s.Summary().Read > 500 })

	b2, err := embedkafka.Start(context.Background(), embedkafka.Config{DataDir: filepath.Join(dir, "kafka"), Listen: addr})
	if err != nil {
		t.Fatalf("restart broker: %v", err)
	}
	t.Cleanup(b2.Close)
	c.waitExactly(t, 5000)
	stop()
}

// TestShipCompressedFile: `bulwark ship access.log.1.gz` ships the lines
// the file holds, not its compressed bytes.
func TestShipCompressedFile(t *testing.T) {
	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	plain := filepath.Join(t.TempDir(), "access.log.1")
	writeLines(t, plain, 0, 3000)
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	path := plain + ".gz"
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(path, zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(path)
	cfg.Follow = false
	reg := prometheus.NewRegistry()
	s, err := shipper.New(cfg, kcfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sum := s.Summary(); sum.Read != 3000 || sum.Shipped != 3000 || sum.Rejected != 0 {
		t.Fatalf("summary %+v, want 3000 lines read and shipped", sum)
	}
	// Offsets are in the content, bigger than the file: a finished archive
	// is not behind.
	if lag := testkit.Metric(t, reg, "bulwark_shipper_lag_bytes", "source", path); lag != 0 {
		t.Errorf("lag of a shipped compressed file: %v bytes, want 0", lag)
	}
	collect(t, kcfg).waitExactly(t, 3000)
}
