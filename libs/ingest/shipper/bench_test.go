package shipper_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// BenchmarkShipNginx measures parse + encode + produce + acknowledgement of
// nginx lines to the embedded broker, per line.
func BenchmarkShipNginx(b *testing.B) {
	broker := kafkatest.Start(b)
	path := filepath.Join(b.TempDir(), "access.log")
	writeLines(b, path, 0, b.N)
	cfg := testConfig(path)
	cfg.MaxBufferedRecords = 50000
	if d, err := time.ParseDuration(os.Getenv("LINGER")); err == nil {
		cfg.Linger = d
	}
	if c := os.Getenv("COMP"); c != "" {
		cfg.Compression = c
	}
	s, err := shipper.New(cfg, kafkatest.Config(broker), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if sum := s.Summary(); sum.Shipped != int64(b.N) {
		b.Fatalf("shipped %d of %d", sum.Shipped, b.N)
	}
}
