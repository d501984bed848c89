package decider_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

func TestReloadOnSIGHUP(t *testing.T) {
	// Our own registration keeps a SIGHUP sent before the reloader listens
	// from ending the test binary.
	hup := make(chan os.Signal, 8)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte("ladder: {block: 91}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	d, err := decider.New(rs, decider.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Polling is slow here: only SIGHUP can make the change show in time.
	r := decider.NewReloader(rulesFile, d, time.Hour, 10*time.Millisecond, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// Same size and modification time: polling could not tell.
	if err := os.WriteFile(rulesFile, []byte("ladder: {block: 93}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(rulesFile, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	// Signalled again on every poll: one sent before the handler is
	// installed would be lost.
	testkit.Eventually(t, 30*time.Second, "SIGHUP to reload the rules", func() bool {
		if d.Rules().Ladder.Block == 93 {
			return true
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		return false
	})
}

// syncBuffer collects log output written from the reloader's goroutine.
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

// watched is a decider whose rule file a running Reloader polls.
type watched struct {
	file string
	d    *decider.Decider
	reg  *prometheus.Registry
	log  *syncBuffer
}

func startReloader(t *testing.T, content string) watched {
	t.Helper()
	w := watched{file: filepath.Join(t.TempDir(), "rules.yaml"), reg: prometheus.NewRegistry(), log: &syncBuffer{}}
	if err := os.WriteFile(w.file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(w.file)
	if err != nil {
		t.Fatal(err)
	}
	if w.d, err = decider.New(rs, decider.Options{Metrics: decider.NewMetrics(w.reg)}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(w.log, nil))
	r := decider.NewReloader(w.file, w.d, 10*time.Millisecond, 10*time.Millisecond, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// waitReloads waits until n reloads with result were counted.
func (w watched) waitReloads(t *testing.T, result string, n float64) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, "rule reloads "+result, func() bool { return reloads(t, w.reg, result) >= n })
}

func TestReloaderRefusesEmptiedFile(t *testing.T) {
	for _, tc := range []struct {
		name, emptied string
	}{
		{"truncated", ""},
		{"whitespace", "\n\n  \n"},
		{"comments only", "# being written\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := startReloader(t, "ladder: {block: 95}\n")
			writeLater(t, w.file, tc.emptied)
			w.waitReloads(t, "failed", 1)
			if got := w.d.Rules().Ladder.Block; got != 95 {
				t.Fatalf("block threshold %v after the file was emptied: the shipped defaults were put in force", got)
			}
			// The failure is counted, then logged: wait for the log line.
			testkit.Eventually(t, 10*time.Second, "a log line that says why", func() bool { return strings.Contains(w.log.String(), "rule file is empty") })
			// A file with content is read again as usual.
			writeLater(t, w.file, "ladder: {block: 96}\n")
			w.waitReloads(t, "ok", 1)
			if got := w.d.Rules().Ladder.Block; got != 96 {
				t.Fatalf("block threshold %v, want 96", got)
			}
		})
	}
}

func TestReloaderAcceptsEmptyFileThatWasEmpty(t *testing.T) {
	w := startReloader(t, "")
	writeLater(t, w.file, "# still the defaults\n")
	w.waitReloads(t, "ok", 1)
	// The way back to the shipped defaults on purpose.
	w2 := startReloader(t, "ladder: {block: 95}\n")
	writeLater(t, w2.file, "version: 1\n")
	w2.waitReloads(t, "ok", 1)
	if got, want := w2.d.Rules().Ladder.Block, rules.Default().Ladder.Block; got != want {
		t.Fatalf("block threshold %v, want the default %v", got, want)
	}
}

func TestReloaderReportsDeletedFile(t *testing.T) {
	w := startReloader(t, "ladder: {block: 95}\n")
	if err := os.Remove(w.file); err != nil {
		t.Fatal(err)
	}
	w.waitReloads(t, "failed", 1)
	if got := w.d.Rules().Ladder.Block; got != 95 {
		t.Fatalf("block threshold %v after the file was deleted", got)
	}
	testkit.Eventually(t, 10*time.Second, "a log line that says the file is missing", func() bool { return strings.Contains(w.log.String(), "rule file is missing") })
	// When it is back it is read.
	writeLater(t, w.file, "ladder: {block: 94}\n")
	w.waitReloads(t, "ok", 1)
	if got := w.d.Rules().Ladder.Block; got != 94 {
		t.Fatalf("block threshold %v, want 94", got)
	}
	if n := reloads(t, w.reg, "failed"); n != 1 {
		t.Fatalf("failed reloads %v: a missing file is reported once", n)
	}
}

// TestReloaderWaitsForStableFile runs on synctest's clock: the writer
// finishes the file within the settle time, and the reloader must read only
// the whole file.
func TestReloaderWaitsForStableFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "rules.yaml")
		// Crawler verification off: its cache's goroutine would outlive the bubble.
		const noCrawlers = "crawlers: {enabled: false}\n"
		if err := os.WriteFile(file, []byte(noCrawlers+"ladder: {block: 95}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		rs, err := rules.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		d, err := decider.New(rs, decider.Options{Metrics: decider.NewMetrics(reg)})
		if err != nil {
			t.Fatal(err)
		}
		const settle = time.Second
		r := decider.NewReloader(file, d, time.Hour, settle, nil)

		// The first half of the new file is valid YAML on its own.
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(noCrawlers + "ladder: {block: 97}\n"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- r.Reload(t.Context()) }()
		time.Sleep(settle / 2) // synctest's clock: the reloader is waiting
		if _, err := f.WriteString("learning: true\n"); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got := d.Rules()
		if got.Ladder.Block != 97 || !got.Learning {
			t.Fatalf("rules in force: block %v, learning %v; want the whole file (97, true)", got.Ladder.Block, got.Learning)
		}
		if n := reloads(t, reg, "ok"); n != 1 {
			t.Fatalf("%v reloads, want 1", n)
		}
	})
}
