package logfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("203.0.113.7 - - [21/Nov/2026:10:00:03 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"\n"), 1000)

	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(want)
	gw.Close()
	zw, _ := zstd.NewWriter(nil)
	zs := zw.EncodeAll(want, nil)

	for _, tc := range []struct {
		name string
		data []byte
		c    Compression
	}{
		{"access.log", want, None},
		{"access.log.2.gz", gz.Bytes(), Gzip},
		{"access.log.3.zst", zs, Zstd},
		{"misnamed.log", gz.Bytes(), Gzip}, // told by content, not name
		{"empty.log", nil, None},
		{"x", []byte("x"), None},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := IsCompressed(p)
			if err != nil || c != tc.c {
				t.Fatalf("IsCompressed = %v, %v; want %v", c, err, tc.c)
			}
			r, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			exp := want
			if tc.c == None {
				exp = tc.data
			}
			if !bytes.Equal(got, exp) || r.Compression != tc.c {
				t.Fatalf("read %d bytes (%s), want %d (%s)", len(got), r.Compression, len(exp), tc.c)
			}
		})
	}
}

func TestOpenCorrupt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.gz")
	os.WriteFile(p, []byte{0x1f, 0x8b, 0, 0, 0, 0}, 0o644)
	r, err := Open(p)
	if err == nil {
		_, err = io.ReadAll(r)
		r.Close()
	}
	if err == nil {
		t.Fatal("a corrupt gzip file read without error")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing file opened")
	}
}
