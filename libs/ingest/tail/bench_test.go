package tail_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
)

// BenchmarkNext reads a 100,000-line access log with a Follower (line
// splitting, over-long line handling and the per-line fingerprints of the
// checkpoint) and, in the same run, with bufio.Scanner as the baseline: the
// "x-scanner" metric is the Follower's time over the Scanner's.
func BenchmarkNext(b *testing.B) {
	const n = 100_000
	path := filepath.Join(b.TempDir(), "access.log")
	var sb strings.Builder
	for i := range n {
		sb.WriteString(logLine(i))
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	readFollower := func() {
		f, err := tail.Open(path, tail.Position{}, tail.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		lines := 0
		for {
			_, err := f.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			lines++
		}
		if lines != n {
			b.Fatalf("%d lines, want %d", lines, n)
		}
	}
	readScanner := func() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 256<<10), 64<<10)
		for sc.Scan() {
		}
	}
	b.ReportAllocs()
	var base time.Duration
	for b.Loop() {
		b.StopTimer()
		t0 := time.Now()
		readScanner()
		base += time.Since(t0)
		b.StartTimer()
		readFollower()
	}
	b.ReportMetric(float64(b.Elapsed())/float64(base), "x-scanner")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
