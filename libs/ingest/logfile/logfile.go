// Package logfile opens log files for reading whether they are plain,
// gzip'd or zstd-compressed, so that rotated archives (access.log.2.gz,
// access.log.3.zst) can be read wherever a log file is read.
package logfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is how a file's content is stored.
type Compression string

const (
	None Compression = "none"
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Detect tells a file's compression from its first bytes (not its name:
// logrotate's compressext and hand-made copies do not always say).
func Detect(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	}
	return None
}

// IsCompressed reports whether the file at path starts with a gzip or zstd
// header. A file too short to tell is not compressed.
func IsCompressed(path string) (Compression, error) {
	f, err := os.Open(path)
	if err != nil {
		return None, err
	}
	defer f.Close()
	head := make([]byte, 4)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return None, fmt.Errorf("read %s: %w", path, err)
	}
	return Detect(head[:n]), nil
}

// Reader is an open log file, decompressed.
type Reader struct {
	io.Reader
	Compression Compression
	closers     []func() error
}

// Close releases the decompressor and the file.
func (r *Reader) Close() error {
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Open opens path and decompresses it if it is gzip'd or zstd-compressed.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closers = append(r.closers, f.Close)
	return r, nil
}

// NewReader wraps src (named for errors) in a decompressor when its first
// bytes say it is compressed. The caller still closes src; closing the
// Reader releases only the decompressor.
func NewReader(src io.Reader, name string) (*Reader, error) {
	br := bufio.NewReaderSize(src, 1<<20)
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	switch c := Detect(head); c {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		return &Reader{Reader: zr, Compression: c, closers: []func() error{zr.Close}}, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("%s: zstd: %w", name, err)
		}
		return &Reader{Reader: zr.IOReadCloser(), Compression: c, closers: []func() error{func() error { zr.Close(); return nil }}}, nil
	}
	return &Reader{Reader: br, Compression: None}, nil
}
