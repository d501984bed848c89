package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
)

func TestSignaturesCheck(t *testing.T) {
	out, err := runCLI(t, "signatures", "check")
	if err != nil || !strings.Contains(out, "default: ok") || !strings.Contains(out, "test strings pass") {
		t.Fatalf("check of the shipped set: %v\n%s", err, out)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("version: 1\nsignatures:\n  - {id: cms-probe, disabled: true}\n"), 0o644)
	os.WriteFile(bad, []byte("version: 1\nsignatures:\n  - {id: mine, category: exploit, severity: high, reference: r, fields: [target], literals: [/a], match: [/b]}\n"), 0o644)
	if out, err := runCLI(t, "signatures", "check", good); err != nil || !strings.Contains(out, good+": ok") {
		t.Fatalf("check %s: %v\n%s", good, err, out)
	}
	out, err = runCLI(t, "signatures", "check", good, bad)
	if err == nil || !strings.Contains(out, `signature "mine" does not match its test string "/b"`) {
		t.Fatalf("check of a failing file: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "signatures", "default"); err != nil || !strings.Contains(out, "id: cve-2021-41773") {
		t.Fatalf("default: %v", err)
	}
}

// A replay that drops more than 1 % as too late says so with the flag to raise.
func TestLateWarning(t *testing.T) {
	r := &replay.Result{Events: 1000, Late: 40}
	if !r.TooLate() {
		t.Fatal("4 % too late is not TooLate")
	}
	w := lateWarning(r, replay.Config{Reorder: -1, AllowedLateness: 30 * time.Second})
	for _, want := range []string{"WARNING", "40 of 1000", "4.0%", "DROPPED", "--reorder-window", "--allowed-lateness 30s"} {
		if !strings.Contains(w, want) {
			t.Fatalf("warning %q lacks %q", w, want)
		}
	}
	if (&replay.Result{Events: 1000, Late: 10}).TooLate() {
		t.Fatal("1 % is within the target")
	}
}
