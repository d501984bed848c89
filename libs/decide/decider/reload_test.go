package decider_test

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
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
	r := decider.NewReloader(rulesFile, d, time.Hour, nil)
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
	deadline := time.Now().Add(30 * time.Second)
	for d.Rules().Ladder.Block != 93 {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not reload the rules")
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
