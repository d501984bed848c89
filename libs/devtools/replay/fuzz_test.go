package replay_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
)

// FuzzReplayFile: whatever a log file holds, a replay reads it to the end
// without failing, and accounts for every line.
func FuzzReplayFile(f *testing.F) {
	f.Add([]byte(`203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] "GET /product/10001 HTTP/1.1" 200 5120 "-" "curl/8.11.1"` + "\n"))
	f.Add([]byte(`203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] "GET / HTTP/2.0" 200 1 "-" "Mozilla/5.0" 0.012 "-"` + "\r\n\n\n" +
		`2001:db8::1 - - [21/Nov/2026:10:00:04 +0000] "POST /login HTTP/1.1" 401 17900 "https://shop.example/login" "python-requests/2.32.3"`))
	f.Add([]byte("garbage\n\x00\xff\xfe\n" + string(make([]byte, 70_000)) + "\n"))
	f.Add([]byte(`203.0.113.7 - - [31/Feb/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-"` + "\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.log")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := replay.Run(context.Background(), replay.Config{Files: []string{path}, Format: logparse.FormatNginx})
		if err != nil {
			t.Fatalf("replay of %q: %v", data, err)
		}
		var bad int64
		for _, n := range res.Bad {
			bad += n
		}
		if res.Events+res.Skipped+bad != res.Lines {
			t.Fatalf("%d lines read but %d events, %d skipped, %d bad", res.Lines, res.Events, res.Skipped, bad)
		}
	})
}
