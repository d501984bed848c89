package shipper_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestCopytruncateCopyMissing: copytruncate while stopped, and the copy is
// gone (compressed, deleted) before the restart. The lines in it cannot be
// shipped; the shipper must say so in a metric, and ship the new content
// whole, from its first line.
func TestCopytruncateCopyMissing(t *testing.T) {
	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	writeLines(t, path, 0, 1000)
	cfg := testConfig(path)
	cfg.Follow = true
	cfg.CheckpointFile = filepath.Join(dir, "cp.json")
	c := collect(t, kcfg)
	stop := runShipper(t, cfg, kcfg)
	c.waitExactly(t, 1000)
	stop()

	writeLines(t, path, 1000, 1500) // lost with the copy
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, 1500, 2800) // grown past the old offset
	reg := prometheus.NewRegistry()
	s, err := shipper.New(cfg, kcfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	stop = runShipperInstance(t, s)
	testkit.Eventually(t, 60*time.Second, "2300 distinct lines", func() bool { return distinct(c) >= 2300 })
	stop() // flushed: the topic's end offsets are final
	ends, err := kadm.NewClient(kafkatest.Client(t, b)).ListEndOffsets(context.Background(), kcfg.Topics.Requests, kcfg.Topics.RequestsDLQ)
	if err != nil {
		t.Fatal(err)
	}
	var records, dead int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Topic == kcfg.Topics.Requests {
			records += o.Offset
		} else {
			dead += o.Offset
		}
	})
	if records != 2300 || dead != 0 {
		t.Fatalf("%d records and %d dead letters, want 2300 (lines 0-999 and 1500-2799) and none", records, dead)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range 2800 {
		want := 1
		if i >= 1000 && i < 1500 {
			want = 0
		}
		if got := c.paths[fmt.Sprintf("/product/%d", i)]; got != want {
			t.Fatalf("line %d arrived %d times, want %d", i, got, want)
		}
	}
	if got := testkit.Metric(t, reg, "bulwark_shipper_rotations_possibly_lost_total"); got != 1 {
		t.Fatalf("bulwark_shipper_rotations_possibly_lost_total = %v, want 1", got)
	}
}

func distinct(c *collector) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.paths)
}
