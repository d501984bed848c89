package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// The Web Bot Detection Dataset's format (libs/devtools/training/testdata/webbot):
// the client anonymised to "-", a bare session id after the referer.
const webbotFormat = `%h %l %t "%r" %>s %b "%{Referer}i" %{SESSION_ID}e "%{User-Agent}i"`

var webbotDir = filepath.Join("..", "..", "libs", "devtools", "training", "testdata", "webbot")

func TestShipAnonymisedLog(t *testing.T) {
	b := kafkatest.Start(t)
	logs := []string{filepath.Join(webbotDir, "bots.log"), filepath.Join(webbotDir, "humans.log")}
	args := []string{"--brokers", b.Addr(), "ship", "--format", "apache", "--log-format", webbotFormat, "--session-field", "SESSION_ID"}
	out, err := runCLI(t, append(append(args, "--check"), logs...)...)
	if err != nil {
		t.Fatalf("--check: %v\n%s", err, out)
	}
	for _, want := range []string{
		"174 lines checked as apache: 170 parsed, 0 rejected",
		"106 lines checked as apache: 102 parsed, 0 rejected",
		"4 lines match the format but name no client (no address and no session id): shipped as dead letters, reason no_client",
		`"session_id":"1ttvuqau08dh4t1cjg50pr2298"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--check output lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(t, append(args, logs...)...)
	if err != nil || strings.TrimSpace(out) != "shipped 272, rejected 8" {
		t.Fatalf("ship: %v\n%s", err, out)
	}
	recs := kafkatest.ReadAll(t, b, "bulwark.requests.v1", 272, 10*time.Second)
	for _, r := range recs {
		if len(r.Key) != 26 { // keyed by the session id: a session stays in one partition
			t.Fatalf("record key %q, want the session id", r.Key)
		}
	}
}
