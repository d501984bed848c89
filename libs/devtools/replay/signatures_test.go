package replay_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
)

// One request for a known exploit, with a raw byte in it, from an address
// nobody else uses: replay blocks it by the exploit_signature rule and says
// which signature; a person's requests around it stay allowed; replay can
// turn the signatures off.
func TestReplayExploitSignature(t *testing.T) {
	log := strings.Join([]string{
		`198.51.100.9 - - [21/Nov/2026:10:00:00 +0000] "GET /product/1 HTTP/2.0" 200 5120 "https://www.google.com/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"`,
		"203.0.113.66 - - [21/Nov/2026:10:00:05 +0000] \"GET /cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd\xff HTTP/1.1\" 400 226 \"-\" \"-\"",
		`198.51.100.9 - - [21/Nov/2026:10:00:20 +0000] "GET /product/2 HTTP/2.0" 200 5120 "https://shop.example/product/1" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"`,
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	out, res := run(t, replay.Config{Files: []string{path}, Format: logparse.FormatNginx})
	if res.Events != 3 || len(res.Bad) != 0 {
		t.Fatalf("events %d, bad %v", res.Events, res.Bad)
	}
	var blocked bool
	for line := range bytes.Lines(out) {
		s := string(line)
		if strings.Contains(s, `"ip:198.51.100.9"`) {
			t.Fatalf("the person got a verdict: %s", s)
		}
		if strings.Contains(s, `"ip:203.0.113.66"`) && strings.Contains(s, `"BLOCK"`) &&
			strings.Contains(s, "exploit_signature") && strings.Contains(s, "sig=cve-2021-41773") {
			blocked = true
		}
	}
	if !blocked {
		t.Fatalf("no BLOCK naming the signature:\n%s", out)
	}
	off, _ := run(t, replay.Config{Files: []string{path}, Format: logparse.FormatNginx, NoSignatures: true})
	if bytes.Contains(off, []byte("exploit_signature")) {
		t.Fatalf("--no-signatures still blocked by signature:\n%s", off)
	}
}
