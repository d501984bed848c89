package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// Every command has --help and refuses bad input with a usage error
// (exit 2), not a crash or a silent success.
func TestHelpAndBadInput(t *testing.T) {
	root := newRoot()
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		out, err := runCLI(t, c.Name(), "--help")
		if err != nil || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: %v\n%s", c.Name(), err, out)
		}
	}
	bad := [][]string{
		{"ship", "--format", "iis", "x.log"},
		{"ship", "--format", "nginx", "--log-format", "$remote_addr $status", "x.log"},
		{"ship", "--format", "nginx", "no-such.log"},
		{"replay", "--format", "apache", "--log-format", "%h %Z", "x.log"},
		{"replay", "--format", "nginx-json", "--json-fields", "remote_addr", "x.log"},
		{"ship"},
		{"tail", "no.such.topic"},
		{"tail"},
		{"dev", "--listen", "0.0.0.0:9092"},
		{"--log-level", "loud", "tail", "verdicts"},
		{"--brokers", "nocolon", "tail", "verdicts"},
		{"block", "not-a-subject"},
		{"ship", "--no-such-flag", "x.log"},
	}
	for _, args := range bad {
		_, err := runCLI(t, args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("bulwark %s: err %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}

func TestShipPrintsSummary(t *testing.T) {
	b := kafkatest.Start(t)
	path := filepath.Join(t.TempDir(), "access.log")
	lines := `203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.5.0"` + "\n" +
		`garbage` + "\n" +
		`203.0.113.8 - - [21/Nov/2026:10:00:04 +0000] "GET /a.css HTTP/1.1" 200 512 "-" "Mozilla/5.0"` + "\n"
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "--brokers", b.Addr(), "ship", "--format", "nginx", path)
	if err != nil {
		t.Fatalf("ship: %v\n%s", err, out)
	}
	if strings.TrimSpace(out) != "shipped 2, rejected 1" {
		t.Fatalf("ship printed %q", out)
	}
	recs := kafkatest.ReadAll(t, b, "bulwark.requests.v1", 2, 10*time.Second)
	if len(recs) != 2 {
		t.Fatalf("%d records on the requests topic, want 2", len(recs))
	}
	tailed, err := runCLI(t, "--brokers", b.Addr(), "tail", "dlq", "--from-beginning", "-n", "1")
	if err != nil || !strings.Contains(tailed, `"reason":"bad_syntax"`) || !strings.Contains(tailed, `"raw":"garbage"`) {
		t.Fatalf("tail dlq: %v %s", err, tailed)
	}
}

func TestRulesCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("ladder:\n  monitor: 40\n  challenge: 60\n  block: 85\n"), 0o644)
	badFile := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badFile, []byte("ladder:\n  monitor: 40\n  challenge: 30\n  block: 85\n"), 0o644)
	out, err := runCLI(t, "rules", "check", good)
	if err != nil || !strings.Contains(out, "ok") || !strings.Contains(out, "40/60/85") {
		t.Fatalf("good file: %v %s", err, out)
	}
	out, err = runCLI(t, "rules", "check", good, badFile)
	if err == nil || !strings.Contains(out, "bad.yaml:") {
		t.Fatalf("bad file: %v %s", err, out)
	}
	out, err = runCLI(t, "rules", "default")
	if err != nil || !strings.Contains(out, "ladder:") {
		t.Fatalf("default: %v", err)
	}
}

// Every setting is declared once, with its help: `bulwark config`, the
// README's tables and the start-up errors all come from that declaration.
func TestEveryVariableIsDeclaredWithHelp(t *testing.T) {
	seen := map[string]string{}
	for _, p := range allPrograms() {
		for _, v := range p.Vars() {
			if v.Help == "" {
				t.Errorf("%s: %s (field %s) has no help tag", p.Name, v.Name, v.Field)
			}
			if prev, ok := seen[v.Name]; ok && prev != v.Field && !strings.HasSuffix(prev, v.Field) && !strings.HasSuffix(v.Field, prev) {
				t.Errorf("%s is declared twice: %s and %s", v.Name, prev, v.Field)
			}
			seen[v.Name] = v.Field
		}
	}
}
