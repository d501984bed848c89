package replay_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
)

// Replay ten simulated minutes with the shipped rules, verdicts to stdout,
// and score them against the simulator's labels.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "replay-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	cfg := simulate.DefaultConfig()
	cfg.Duration = 10 * time.Minute
	s, err := simulateTo(filepath.Join(dir, "access.log"), cfg)
	if err != nil {
		panic(err)
	}

	res, err := replay.Run(context.Background(), replay.Config{
		Files:  []string{s.path},
		Format: logparse.FormatNginx,
		Labels: s.labels,
		Output: os.Stdout, // one verdict JSON line per change
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d lines, %d verdict changes, %.0f lines/s\n", res.Lines, res.Verdicts, res.LinesPerSecond())
	if err := res.Evaluation.WriteReport(os.Stdout); err != nil {
		panic(err)
	}
}
