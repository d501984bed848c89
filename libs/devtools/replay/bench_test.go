package replay_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// benchLog is a simulated log for the benchmarks: BULWARK_BENCH_LOG names
// an existing one (scripts/bench/replay.sh passes a simulated day),
// otherwise three simulated hours are written to a temporary directory.
func benchLog(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("BULWARK_BENCH_LOG"); p != "" {
		return p
	}
	cfg := simulate.DefaultConfig()
	cfg.Duration = 3 * time.Hour
	s, err := simulateTo(filepath.Join(b.TempDir(), "bench.log"), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return s.path
}

// BenchmarkParseOnly is the baseline: reading and parsing the lines on one
// goroutine, with nothing else.
func BenchmarkParseOnly(b *testing.B) {
	path := benchLog(b)
	p, err := logparse.New(logparse.FormatNginx, logparse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var ev eventpb.RequestEvent
	var lines int64
	b.ReportAllocs()
	start, cpu := time.Now(), cpuTime()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(bufio.NewReaderSize(f, 1<<20))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines++
			if err := p.Parse(sc.Bytes(), &ev); err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
	}
	report(b, lines, start, cpu)
}

// BenchmarkReplay is a whole replay: parse, engines, deciders, verdict JSON.
func BenchmarkReplay(b *testing.B) {
	path := benchLog(b)
	var lines int64
	b.ReportAllocs()
	start, cpu := time.Now(), cpuTime()
	for b.Loop() {
		res, err := replay.Run(context.Background(), replay.Config{Files: []string{path}, Format: logparse.FormatNginx})
		if err != nil {
			b.Fatal(err)
		}
		lines += res.Lines
	}
	report(b, lines, start, cpu)
}

// report adds lines/s and the CPU time per line (user and system, all
// goroutines): on a shared machine the second says more than the first.
func report(b *testing.B, lines int64, start time.Time, cpu time.Duration) {
	b.ReportMetric(float64(lines)/time.Since(start).Seconds(), "lines/s")
	b.ReportMetric(float64(cpuTime()-cpu)/float64(max(lines, 1)), "cpu-ns/line")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
