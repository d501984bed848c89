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

// A site's own format: the host in front, a session id after the referer.
const siteFormat = `$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$sid" "$http_user_agent"`

const siteLines = `shop.example 203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 512 "-" "s-1" "curl/8.5.0"
shop.example 203.0.113.8 - - [21/Nov/2026:10:00:04 +0000] "GET /a.css HTTP/1.1" 2OO 512 "-" "s-2" "Mozilla/5.0"
shop.example 203.0.113.9 - - [21/Nov/2026:10:00:05 +0000] "POST /login HTTP/1.1" 302 0 "-" "s-3" "Mozilla/5.0"
`

func TestShipCheck(t *testing.T) {
	b := kafkatest.Start(t)
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte(siteLines), 0o644); err != nil {
		t.Fatal(err)
	}
	// --check reports the bad field and line and the first event, and sends nothing.
	out, err := runCLI(t, "--brokers", b.Addr(), "ship", "--format", "nginx", "--log-format", siteFormat, "--session-field", "sid", "--check", path)
	if err == nil {
		t.Fatalf("--check with a rejected line succeeded:\n%s", out)
	}
	for _, want := range []string{
		"3 lines checked as nginx: 2 parsed, 1 rejected",
		"line 2: bad_syntax: nginx: bad syntax in $status at column 81: want a 3-digit status code",
		`"session_id":"s-1"`, `"host":"shop.example"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--check output lacks %q:\n%s", want, out)
		}
	}
	// The combined format fits none of the lines: ship refuses before sending.
	out, err = runCLI(t, "--brokers", b.Addr(), "ship", "--format", "nginx", path)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "none of the first 3 lines parse as nginx, nothing was sent (line 1:") {
		t.Fatalf("ship with the wrong format: %v\n%s", err, out)
	}
	// The right format ships, with the session ids.
	out, err = runCLI(t, "--brokers", b.Addr(), "ship", "--format", "nginx", "--log-format", siteFormat, "--session-field", "sid", path)
	if err != nil || strings.TrimSpace(out) != "shipped 2, rejected 1" {
		t.Fatalf("ship: %v\n%s", err, out)
	}
	recs := kafkatest.ReadAll(t, b, "bulwark.requests.v1", 2, 10*time.Second)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2 (the refused runs must have sent nothing)", len(recs))
	}
	tailed, err := runCLI(t, "--brokers", b.Addr(), "tail", "requests", "--from-beginning", "-n", "2")
	if err != nil || !strings.Contains(tailed, `"session_id":"s-3"`) {
		t.Fatalf("tail requests: %v %s", err, tailed)
	}
}

func TestReplayCustomFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte(siteLines), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "replay", "--format", "nginx", "--log-format", siteFormat, "--session-field", "sid", "--output", filepath.Join(t.TempDir(), "v.jsonl"), "--no-progress", path)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	// The combined format fits no line: a usage error that names the flags.
	_, err = runCLI(t, "replay", "--format", "nginx", "--output", filepath.Join(t.TempDir(), "v.jsonl"), "--no-progress", path)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("replay with the wrong format: %v", err)
	}
}

func TestGeoIPUpdateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"geoip", "update"},
		{"geoip", "update", "--dir", t.TempDir(), "--provider", "maxmind"},
		{"geoip", "update", "--dir", t.TempDir(), "--provider", "nope"},
	} {
		_, err := runCLI(t, args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("bulwark %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}
