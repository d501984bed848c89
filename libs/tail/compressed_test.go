package tail_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/bulwarkhq/bulwark/libs/tail"
)

// TestCompressed: rotated archives are read decompressed, resume at a
// position counted in decompressed bytes, and end even when following.
func TestCompressed(t *testing.T) {
	content := "first\nsecond\nthird"
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write([]byte(content))
	gw.Close()
	zw, _ := zstd.NewWriter(nil)
	for name, data := range map[string][]byte{"access.log.2.gz": gz.Bytes(), "access.log.3.zst": zw.EncodeAll([]byte(content), nil)} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, pos := readAll(t, path, tail.Position{}, tail.Options{})
			if strings.Join(got, "|") != "first|second|third" || pos.Offset != int64(len(content)) {
				t.Fatalf("lines %q, position %d", got, pos.Offset)
			}
			got, _ = readAll(t, path, tail.Position{Identity: pos.Identity, Offset: 6}, tail.Options{})
			if strings.Join(got, "|") != "second|third" {
				t.Fatalf("resumed at 6: %q", got)
			}
			got, _ = readAll(t, path, tail.Position{Identity: pos.Identity, Offset: 1 << 20}, tail.Options{})
			if len(got) != 0 {
				t.Fatalf("resumed past the end: %q", got)
			}
			got, _ = readAll(t, path, tail.Position{}, tail.Options{Follow: true, PollInterval: time.Millisecond})
			if len(got) != 3 {
				t.Fatalf("following an archive: %q", got)
			}
		})
	}
}
