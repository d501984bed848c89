package shipper

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzLineReader checks the push splitter against a plain reference: split
// on newlines, drop a \r before a newline, cut lines longer than max.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nb\r\n\nc"), 3)
	f.Add(bytes.Repeat([]byte("x"), 70000), 300)
	f.Add([]byte("abc\r\r\n"+string(bytes.Repeat([]byte("y"), 100))+"\n"), 1)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max = 1 + int(uint(max)%200)
		lr := newLineReader(bytes.NewReader(in), max)
		rest := in
		var total int64
		for {
			line, size, truncated, err := lr.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.IndexByte(rest, '\n')
			var want []byte
			wantSize := int64(len(rest))
			if i >= 0 {
				want, wantSize = bytes.TrimSuffix(rest[:i], []byte("\r")), int64(i+1)
			} else {
				want = rest
			}
			wantCut := len(want) > max
			if wantCut {
				want = want[:max]
			}
			if !bytes.Equal(line, want) || size != wantSize || truncated != wantCut {
				t.Fatalf("line %q size %d cut %v, want %q size %d cut %v", line, size, truncated, want, wantSize, wantCut)
			}
			rest = rest[wantSize:]
			total += size
		}
		if total != int64(len(in)) {
			t.Fatalf("lines cover %d bytes of %d", total, len(in))
		}
	})
}
