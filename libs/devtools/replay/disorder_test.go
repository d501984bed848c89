package replay_test

import (
	"bufio"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// realLogDir holds real access logs shared by the project.
const realLogDir = "../../../../shared/data/real-logs"

// disorderedLog writes a real log whose lines are out of order by up to
// maxSkew, as a log merged from several workers is: each line keeps its
// place in the file, and its time moves back by a random 0..maxSkew (a
// worker that logs a request when it ends, or a shipper that is behind).
func disorderedLog(t *testing.T, name string, maxSkew time.Duration) (string, int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(realLogDir, name))
	if err != nil {
		t.Skipf("real log %s not found beside the repository: %v", name, err)
	}
	rng := rand.New(rand.NewPCG(60, 60))
	var out bytes.Buffer
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	const layout = "02/Jan/2006:15:04:05 -0700"
	for sc.Scan() {
		line := sc.Bytes()
		i := bytes.IndexByte(line, '[')
		if i < 0 || len(line) < i+1+len(layout) {
			continue
		}
		ts, err := time.Parse(layout, string(line[i+1:i+1+len(layout)]))
		if err != nil {
			continue
		}
		ts = ts.Add(-time.Duration(rng.Int64N(int64(maxSkew) + 1)))
		out.Write(line[:i+1])
		out.WriteString(ts.Format(layout))
		out.Write(line[i+1+len(layout):])
		out.WriteByte('\n')
		n++
	}
	path := filepath.Join(t.TempDir(), "disordered.log")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, n
}

// A log out of order by up to 60 s loses (almost) nothing, in replay and
// in the live aggregator's engine, with the default settings; the old
// settings (no reordering, 30 s lateness) lose a lot and say so.
func TestDisorderedLog(t *testing.T) {
	path, lines := disorderedLog(t, "apache-combined-2015.log", 60*time.Second)

	run := func(cfg replay.Config) *replay.Result {
		t.Helper()
		cfg.Files = []string{path}
		cfg.Format = logparse.FormatNginx
		res, err := replay.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run(replay.Config{})
	t.Logf("defaults: %d lines, %d events, %d too late (%.2f%%)", lines, res.Events, res.Late, 100*float64(res.Late)/float64(res.Events))
	if res.TooLate() || float64(res.Late) > replay.MaxLateShare*float64(res.Events) {
		t.Fatalf("%d of %d events too late with the defaults", res.Late, res.Events)
	}
	old := run(replay.Config{Reorder: -1, AllowedLateness: 30 * time.Second})
	t.Logf("file order, 30 s lateness: %d too late (%.2f%%)", old.Late, 100*float64(old.Late)/float64(old.Events))
	if !old.TooLate() {
		t.Fatalf("file order with 30 s lateness: only %d of %d late; the test log is not disordered enough", old.Late, old.Events)
	}

	// Live: the aggregator reads a partition in offset (file) order, without
	// any reordering, so its allowed lateness alone must cover the disorder.
	p, err := logparse.New(logparse.FormatNginx, logparse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := aggregator.NewEngine(rules.Default().Features)
	data, _ := os.ReadFile(path)
	var ev eventpb.RequestEvent
	for line := range bytes.Lines(data) {
		if p.Parse(bytes.TrimSuffix(line, []byte("\n")), &ev) == nil {
			e.Process(&ev, nil)
		}
	}
	st := e.Stats()
	t.Logf("live engine: %d events, %d too late", st.Events, st.Late)
	if float64(st.Late) > replay.MaxLateShare*float64(st.Events+st.Late) {
		t.Fatalf("live engine: %d of %d events too late", st.Late, st.Events+st.Late)
	}
}
