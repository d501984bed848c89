package tail

import (
	"fmt"
	"io"
	"os"

	"github.com/bulwarkhq/bulwark/libs/ingest/logfile"
)

// Compressed files. A gzip'd or zstd-compressed file (told by its first
// bytes, as logfile does) is read through a decompressed copy in an unlinked
// temporary file: every offset, fingerprint and seek of the follower is then
// one of the decompressed content, as if the file had never been
// compressed, and nothing else in the follower needs to know. The copy costs
// disk for the decompressed size while the file is read, and is freed when
// the follower moves on (or the process ends).

// compression tells f's compression from its first bytes.
func compression(f *os.File) logfile.Compression {
	var head [4]byte
	n, _ := f.ReadAt(head[:], 0)
	return logfile.Detect(head[:n])
}

// decompress returns an unlinked temporary file holding the decompressed
// content of f (named name), positioned at its start.
func decompress(f *os.File, name string) (*os.File, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("decompress %s: %w", name, err)
	}
	r, err := logfile.NewReader(f, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	tmp, err := os.CreateTemp("", "bulwark-tail-*.log")
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", name, err)
	}
	_ = os.Remove(tmp.Name()) // unlinked: freed on close, whatever happens
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("decompress %s: %w", name, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("decompress %s: %w", name, err)
	}
	return tmp, nil
}

// compressedHolds reports whether the compressed file f (named name)
// decompresses to content that holds pos, and returns that content when
// it does. Only a file whose decompressed head matches pos's head
// fingerprint is decompressed whole: older rotated archives beside the log
// (name.2.gz, ...) cost a read of their first kilobyte.
func compressedHolds(f *os.File, name string, pos Position) (*os.File, bool) {
	if !pos.fingerprinted() {
		return nil, false // an old checkpoint is matched by inode, which a compressed file never shares
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, false
	}
	r, err := logfile.NewReader(f, name)
	if err != nil {
		return nil, false
	}
	head := make([]byte, pos.Head.Len)
	_, err = io.ReadFull(r, head)
	r.Close()
	if err != nil || fingerprintOf(head) != pos.Head {
		return nil, false
	}
	d, err := decompress(f, name)
	if err != nil {
		return nil, false
	}
	fi, err := d.Stat()
	if err != nil || !holds(d, fi.Size(), pos) {
		d.Close()
		return nil, false
	}
	return d, true
}
