package tail

import (
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bulwarkhq/bulwark/libs/ingest/logfile"
)

// Fingerprint identifies a byte range of a file by its length and CRC-32C.
// A checkpoint keeps two: of the file's head and of the bytes just before
// its offset. Together with the offset they tell whether a file (the path
// itself after copytruncate, or a copy beside it) still holds what was read.
// CRC-32C is enough: the question is "same log content or different", not
// resistance to forgery, and it costs next to nothing per line (hardware
// instruction on amd64 and arm64).
type Fingerprint struct {
	Len int64  `json:"len"`
	Sum uint32 `json:"crc32c"`
}

const (
	// headBytes is how much of a file's beginning identifies it: more than
	// one access-log line, whose timestamp and client make it unique.
	headBytes = 1024
	// beforeBytes is how much of what precedes a position identifies it:
	// about one line, taken from the read buffer, so no extra read per line.
	beforeBytes = 256
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func fingerprintOf(b []byte) Fingerprint {
	return Fingerprint{Len: int64(len(b)), Sum: crc32.Checksum(b, castagnoli)}
}

// readFingerprint fingerprints [off, off+n) of f; ok is false when f does
// not hold that range.
func readFingerprint(f *os.File, off, n int64) (Fingerprint, bool) {
	if n <= 0 {
		return Fingerprint{}, true
	}
	if off < 0 {
		return Fingerprint{}, false
	}
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, off)
	if int64(got) < n || (err != nil && err != io.EOF) {
		return Fingerprint{}, false
	}
	return fingerprintOf(buf), true
}

// matchAt reports whether f holds at off the bytes fp was taken of.
func (fp Fingerprint) matchAt(f *os.File, off int64) bool {
	got, ok := readFingerprint(f, off, fp.Len)
	return ok && got == fp
}

// fingerprinted reports whether pos carries fingerprints (checkpoints
// written before they existed do not; a position at 0 needs none).
func (p Position) fingerprinted() bool { return p.Head.Len > 0 }

// holds reports whether f, of size size, holds what pos was taken of: at
// least pos.Offset bytes, the same head and the same bytes before the offset.
func holds(f *os.File, size int64, pos Position) bool {
	return size >= pos.Offset && size >= pos.Head.Len &&
		pos.Head.matchAt(f, 0) && pos.Before.matchAt(f, pos.Offset-pos.Before.Len)
}

// findOld looks beside path (path.1, path.0, path-20261123, ... : any name
// that starts with path) for the file that holds pos: the file itself,
// renamed (same inode), or, after copytruncate, its copy (same fingerprints).
// A position without fingerprints (an old checkpoint) is matched by inode
// only. A compressed copy (path.1.gz, path-20261123.zst: compressed before
// it was read, e.g. copytruncate without delaycompress) is looked at when no
// plain file holds pos, and matched by the fingerprints of its decompressed
// content, which is then what is returned (see compressedHolds). exclude is
// a file not to consider (the path's own inode, when looking for a copy).
func findOld(path string, pos Position, exclude Identity) (*os.File, string) {
	matches, _ := filepath.Glob(escapeGlob(path) + "?*")
	var copyF *os.File
	var copyName string
	var compressed []string // names of compressed candidates, tried last
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		id := IdentityOf(fi)
		if !exclude.IsZero() && id.SameFile(exclude) {
			continue
		}
		sameInode := id.SameFile(pos.Identity)
		if !pos.fingerprinted() && !sameInode {
			continue
		}
		f, err := os.Open(m)
		if err != nil {
			continue
		}
		if compression(f) != logfile.None {
			f.Close()
			compressed = append(compressed, m)
			continue
		}
		if pos.fingerprinted() && !holds(f, fi.Size(), pos) {
			f.Close()
			continue
		}
		if sameInode { // the file itself beats a copy of it
			if copyF != nil {
				copyF.Close()
			}
			return f, m
		}
		if copyF == nil {
			copyF, copyName = f, m
		} else {
			f.Close()
		}
	}
	if copyF != nil {
		return copyF, copyName
	}
	for _, m := range compressed {
		f, err := os.Open(m)
		if err != nil {
			continue
		}
		d, ok := compressedHolds(f, m, pos)
		f.Close()
		if ok {
			return d, m
		}
	}
	return nil, ""
}

// escapeGlob quotes the glob metacharacters of a literal path.
func escapeGlob(p string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(p)
}
