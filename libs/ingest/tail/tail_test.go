package tail_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
)

func readAll(t *testing.T, path string, pos tail.Position, opts tail.Options) ([]string, tail.Position) {
	t.Helper()
	f, err := tail.Open(path, pos, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	for {
		l, err := f.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out, f.Position()
		}
		if err != nil {
			t.Fatal(err)
		}
		s := string(l.Data)
		if l.Truncated {
			s += "…"
		}
		out = append(out, s)
	}
}

func TestReadOnce(t *testing.T) {
	f := func(content string, maxLine int, want ...string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "access.log")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, pos := readAll(t, path, tail.Position{}, tail.Options{MaxLineBytes: maxLine})
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("lines %q, want %q", got, want)
		}
		if pos.Offset != int64(len(content)) {
			t.Fatalf("position %d, want %d", pos.Offset, len(content))
		}
	}
	f("a\nb\n", 0, "a", "b")
	f("a\nb", 0, "a", "b")
	f("a\r\n\nb\n", 0, "a", "", "b")
	f("", 0)
	f("short\n"+strings.Repeat("x", 100)+"\nnext\n", 10, "short", "xxxxxxxxxx…", "next")
	f("short\n"+strings.Repeat("x", 100), 10, "short", "xxxxxxxxxx…")
}

func TestResumeAtPosition(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	os.WriteFile(path, []byte("one\ntwo\nthree\n"), 0o644)
	f, err := tail.Open(path, tail.Position{}, tail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := f.Next(context.Background())
	if string(l.Data) != "one" || l.Offset != 0 || l.End != 4 {
		t.Fatalf("first line %+v", l)
	}
	pos := f.Position()
	f.Close()
	got, _ := readAll(t, path, pos, tail.Options{})
	if strings.Join(got, ",") != "two,three" {
		t.Fatalf("resumed lines %q", got)
	}
}

// follower collects lines of a followed file in the background.
type follower struct {
	lines  chan string
	cancel context.CancelFunc
	done   chan error
}

func follow(t *testing.T, path string, pos tail.Position) *follower {
	t.Helper()
	f, err := tail.Open(path, pos, tail.Options{Follow: true, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fl := &follower{lines: make(chan string, 1000), cancel: cancel, done: make(chan error, 1)}
	go func() {
		defer f.Close()
		for {
			l, err := f.Next(ctx)
			if err != nil {
				fl.done <- err
				return
			}
			fl.lines <- string(l.Data)
		}
	}()
	t.Cleanup(func() { cancel(); <-fl.done })
	return fl
}

func (fl *follower) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-fl.lines:
			if got != w {
				t.Fatalf("line %q, want %q", got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for line %q", w)
		}
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestFollowRotations(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	appendTo(t, path, "1\n")
	fl := follow(t, path, tail.Position{})
	fl.expect(t, "1")

	appendTo(t, path, "2\npart")
	fl.expect(t, "2")
	appendTo(t, path, "ial\n")
	fl.expect(t, "partial")

	// Rename rotation: the old file gets one more line before the writer reopens.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path+".1", "3-old\n")
	appendTo(t, path, "4-new\n")
	fl.expect(t, "3-old", "4-new")

	// copytruncate: copy away, truncate in place, keep writing.
	data, _ := os.ReadFile(path)
	os.WriteFile(path+".2", data, 0o644)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "5\n") // seen shrunk or already regrown: either way the copy is finished first
	fl.expect(t, "5")
}

// A file that ends without a newline when rotated: its last line still
// counts. The test drives the follower itself, so the unterminated line is
// surely held before the rename.
func TestUnterminatedLineAtRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	appendTo(t, path, "5\n6-unterminated")
	f, err := tail.Open(path, tail.Position{}, tail.Options{Follow: true, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if l, err := f.Next(ctx); err != nil || string(l.Data) != "5" {
		t.Fatalf("first line %q, %v; want \"5\"", l.Data, err)
	}
	// With a done context Next reads what the file holds and returns at its
	// end: the follower now holds "6-unterminated", as when a writer pauses
	// mid-line.
	done, stop := context.WithCancel(ctx)
	stop()
	if l, err := f.Next(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next on a done context: %q, %v; want context.Canceled", l.Data, err)
	}
	if err := os.Rename(path, path+".3"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "7\n")
	for _, want := range []string{"6-unterminated", "7"} {
		if l, err := f.Next(ctx); err != nil || string(l.Data) != want {
			t.Fatalf("line %q, %v; want %q", l.Data, err, want)
		}
	}
}

func TestRotatedWhileDown(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	appendTo(t, path, "a\nb\n")
	f, _ := tail.Open(path, tail.Position{}, tail.Options{})
	f.Next(context.Background())
	pos := f.Position() // after "a"
	f.Close()

	appendTo(t, path, "c\n")
	os.Rename(path, path+".1")
	appendTo(t, path, "d\n")

	got, _ := readAll(t, path+".1", pos, tail.Options{})
	if strings.Join(got, ",") != "b,c" {
		t.Fatalf("old file from position: %q", got)
	}
	// Opening the path with the old identity finds the rotated file first.
	fl := follow(t, path, pos)
	fl.expect(t, "b", "c", "d")
}

func TestFollowFileCreatedLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	fl := follow(t, path, tail.Position{})
	appendTo(t, path, "hello\n")
	fl.expect(t, "hello")
}

func TestMissingFileWithoutFollow(t *testing.T) {
	_, err := tail.Open(filepath.Join(t.TempDir(), "nope.log"), tail.Position{}, tail.Options{})
	if !errors.Is(err, tail.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}
