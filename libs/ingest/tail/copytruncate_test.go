package tail_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
)

// logLine is line i of a test log: unique, about as long as an access-log line.
func logLine(i int) string {
	return fmt.Sprintf("198.51.100.%d - - [03/Dec/2026:07:%02d:%02d +0000] \"GET /p/%d HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\"\n", i%250+1, i/60%60, i%60, i)
}

func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(logLine(i))
	}
	appendTo(t, path, b.String())
}

func wantLines(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, strings.TrimSuffix(logLine(i), "\n"))
	}
	return out
}

// copytruncate does what logrotate's copytruncate does.
func copytruncate(t *testing.T, path, copyPath string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

// readN reads n lines from f and returns them with the identities seen.
func readN(t *testing.T, f *tail.Follower, n int) ([]string, []tail.Identity) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	var ids []tail.Identity
	for range n {
		l, err := f.Next(ctx)
		if err != nil {
			t.Fatalf("after %d lines: %v", len(out), err)
		}
		out = append(out, string(l.Data))
		if len(ids) == 0 || ids[len(ids)-1] != l.Identity {
			ids = append(ids, l.Identity)
		}
	}
	return out, ids
}

func sameLines(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d (first %q)", len(got), len(want), got[:min(1, len(got))])
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d is %q, want %q", i, got[i], want[i])
		}
	}
}

// TestCopytruncateWhileAway: 1,000 lines read, then, with no one reading,
// 500 more, copytruncate, and more lines. Opening at the checkpoint must
// give the 500 from the copy, then every line of the new content, whatever
// the copy's name and whether the new content grew past the old offset.
func TestCopytruncateWhileAway(t *testing.T) {
	f := func(name, copySuffix string, after int, wantLost bool) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "access.log")
			appendLines(t, path, 0, 1000)
			r, err := tail.Open(path, tail.Position{}, tail.Options{})
			if err != nil {
				t.Fatal(err)
			}
			readN(t, r, 1000)
			pos := r.Position()
			r.Close()

			appendLines(t, path, 1000, 1500)
			copyPath := filepath.Join(dir, "access.log"+copySuffix)
			copytruncate(t, path, copyPath)
			if strings.HasSuffix(copySuffix, ".gz") || strings.HasSuffix(copySuffix, ".zst") { // compressed at once
				compressFile(t, copyPath)
			}
			appendLines(t, path, 1500, 1500+after)

			var rots []tail.Rotation
			r, err = tail.Open(path, pos, tail.Options{OnRotate: func(rot tail.Rotation) { rots = append(rots, rot) }})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			want := wantLines(1000, 1500+after)
			if wantLost {
				want = wantLines(1500, 1500+after)
			}
			got, ids := readN(t, r, len(want))
			sameLines(t, got, want)
			if _, err := r.Next(context.Background()); !errors.Is(err, io.EOF) {
				t.Fatalf("after the last line: %v, want EOF", err)
			}
			if len(rots) != 1 || rots[0].Kind != tail.RotatedTruncate || rots[0].Lost != wantLost || !rots[0].WhileAway {
				t.Fatalf("rotations %+v, want one copytruncate, lost=%v", rots, wantLost)
			}
			if !wantLost && (rots[0].From != copyPath || len(ids) != 2 || ids[0] != pos.Identity || ids[1].Gen != pos.Identity.Gen+1) {
				t.Fatalf("rotation %+v, identities %v: want the copy read under %v, then the next generation", rots[0], ids, pos.Identity)
			}
		})
	}
	f("shrunk, copy .1", ".1", 300, false)
	f("grown past the offset, copy .1", ".1", 1300, false)
	f("copy -YYYYMMDD", "-20261203", 300, false)
	f("copy .0", ".0", 1300, false)
	// Compressed before it was read (copytruncate without delaycompress):
	// found by the fingerprints of its decompressed content, read from the
	// checkpoint.
	f("copy compressed at once", ".1.gz", 300, false)
	f("copy compressed, grown past", ".1.gz", 1300, false)
	f("copy compressed with zstd", ".1.zst", 300, false)
}

// TestCopyWithOtherContentIsNotTaken: a file beside the log that is not the
// copy (an older rotation) must not be read as its rest.
func TestCopyWithOtherContentIsNotTaken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	appendLines(t, filepath.Join(dir, "access.log.1"), 5000, 7000) // last week's, bigger than the offset
	appendLines(t, path, 0, 100)
	r, _ := tail.Open(path, tail.Position{}, tail.Options{})
	readN(t, r, 100)
	pos := r.Position()
	r.Close()
	os.Truncate(path, 0)
	appendLines(t, path, 200, 300) // same size as before, other content: a new file under the same inode
	var rots []tail.Rotation
	got, _ := readAll(t, path, pos, tail.Options{OnRotate: func(rot tail.Rotation) { rots = append(rots, rot) }})
	sameLines(t, got, wantLines(200, 300))
	if len(rots) != 1 || !rots[0].Lost {
		t.Fatalf("rotations %+v, want one reported lost", rots)
	}
}

// TestOldCheckpointWithoutFingerprints: positions written before
// fingerprints existed still resume by inode and offset.
func TestOldCheckpointWithoutFingerprints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	appendLines(t, path, 0, 10)
	fi, _ := os.Stat(path)
	pos := tail.Position{Identity: tail.IdentityOf(fi), Offset: int64(len(logLine(0)) * 3)} // lines 0-2 are the same length
	got, _ := readAll(t, path, pos, tail.Options{})
	sameLines(t, got, wantLines(3, 10))
}

// TestCopytruncateWhileFollowing: the follower is stopped between two
// reads (as a paused process or one blocked on Kafka is) while the file
// is copytruncated and written again, shorter or longer than before.
func TestCopytruncateWhileFollowing(t *testing.T) {
	f := func(name string, after int) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "access.log")
			appendLines(t, path, 0, 1000)
			var rots []tail.Rotation
			r, err := tail.Open(path, tail.Position{}, tail.Options{Follow: true, PollInterval: 5 * time.Millisecond, MaxLineBytes: 512, BufferBytes: 4096,
				OnRotate: func(rot tail.Rotation) { rots = append(rots, rot) }})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			readN(t, r, 1000)
			appendLines(t, path, 1000, 1500)
			copytruncate(t, path, path+".1")
			appendLines(t, path, 1500, 1500+after)
			got, ids := readN(t, r, 500+after)
			sameLines(t, got, wantLines(1000, 1500+after))
			if len(rots) != 1 || rots[0].Kind != tail.RotatedTruncate || rots[0].Lost || rots[0].From != path+".1" {
				t.Fatalf("rotations %+v, want one copytruncate read from the copy", rots)
			}
			if len(ids) != 2 || ids[1].Gen != ids[0].Gen+1 {
				t.Fatalf("identities %v: want the old one, then its next generation", ids)
			}
		})
	}
	f("shrunk", 300)
	f("grown past the offset", 1300)
}

// TestRestartWhileReadingTheCopy: a checkpoint taken while the copy is read
// (the shipper killed there) resumes in the copy; one taken in the new
// content resumes there, under the same generation.
func TestRestartWhileReadingTheCopy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	appendLines(t, path, 0, 1000)
	r, _ := tail.Open(path, tail.Position{}, tail.Options{})
	readN(t, r, 1000)
	pos := r.Position()
	r.Close()
	appendLines(t, path, 1000, 1500)
	copytruncate(t, path, path+".1")
	appendLines(t, path, 1500, 2800)

	r, _ = tail.Open(path, pos, tail.Options{})
	got, _ := readN(t, r, 200)
	sameLines(t, got, wantLines(1000, 1200))
	inCopy := r.Position()
	r.Close()
	if inCopy.Identity != pos.Identity {
		t.Fatalf("position in the copy has identity %v, want the checkpoint's %v", inCopy.Identity, pos.Identity)
	}

	r, _ = tail.Open(path, inCopy, tail.Options{})
	got, ids := readN(t, r, 800)
	sameLines(t, got, wantLines(1200, 2000))
	inNew := r.Position()
	r.Close()
	if inNew.Identity != ids[len(ids)-1] || inNew.Identity.Gen != pos.Identity.Gen+1 {
		t.Fatalf("position in the new content %v, want the next generation of %v", inNew.Identity, pos.Identity)
	}

	got, _ = readAll(t, path, inNew, tail.Options{})
	sameLines(t, got, wantLines(2000, 2800))
}

// compressFile replaces path by its gzip'd (name ending .gz) or zstd (.zst)
// form, under the same name, as logrotate's compress does with its own.
func compressFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if strings.HasSuffix(path, ".zst") {
		zw, _ := zstd.NewWriter(&out)
		zw.Write(data)
		zw.Close()
	} else {
		zw := gzip.NewWriter(&out)
		zw.Write(data)
		zw.Close()
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCompressedCopyAmongArchives: older compressed rotations beside the
// log are not taken for the copy; the one that holds the checkpoint is.
func TestCompressedCopyAmongArchives(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	for i, old := range []string{"access.log.2.gz", "access.log.3.zst"} {
		appendLines(t, filepath.Join(dir, old), 5000+1000*i, 7000+1000*i)
		compressFile(t, filepath.Join(dir, old))
	}
	appendLines(t, path, 0, 100)
	r, _ := tail.Open(path, tail.Position{}, tail.Options{})
	readN(t, r, 100)
	pos := r.Position()
	r.Close()
	appendLines(t, path, 100, 150)
	copytruncate(t, path, filepath.Join(dir, "access.log.1.gz"))
	compressFile(t, filepath.Join(dir, "access.log.1.gz"))
	appendLines(t, path, 150, 160)
	r, err := tail.Open(path, pos, tail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, _ := readN(t, r, 60)
	sameLines(t, got, wantLines(100, 160))
}

// TestOpenCompressedFile: a compressed path is read through its content,
// once, even when following, and resumes from a checkpoint.
func TestOpenCompressedFile(t *testing.T) {
	for _, name := range []string{"access.log.1.gz", "access.log.1.zst"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			appendLines(t, path, 0, 300)
			compressFile(t, path)
			r, err := tail.Open(path, tail.Position{}, tail.Options{Follow: true, PollInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := readN(t, r, 200)
			sameLines(t, got, wantLines(0, 200))
			pos := r.Position()
			r.Close()
			r, err = tail.Open(path, pos, tail.Options{Follow: true, PollInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, _ = readN(t, r, 100)
			sameLines(t, got, wantLines(200, 300))
			if _, err := r.Next(context.Background()); !errors.Is(err, io.EOF) {
				t.Fatalf("after the last line of a compressed file: %v, want EOF", err)
			}
		})
	}
}
