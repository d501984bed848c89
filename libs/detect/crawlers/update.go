package crawlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// UpdateConfig says where `bulwark bots update` reads the directory and
// where it writes it.
type UpdateConfig struct {
	// DirectoryURL is where the directory file is fetched (http(s) or a
	// file); "" keeps the directory shipped with this binary and only
	// refreshes the published ranges.
	DirectoryURL string
	// SHA256 is the expected hex SHA-256 of the directory file. "" fetches
	// it from DirectoryURL + ".sha256" (sha256sum's format or the bare digest).
	SHA256 string
	// Output is the directory written: bots.yaml, ranges/NAME.json and
	// SHA256SUMS. Point the rule file's crawlers.directory at it.
	Output string
	// HTTP is the client (nil: one with a 30 s timeout).
	HTTP *http.Client
}

// UpdateResult says what an update wrote.
type UpdateResult struct {
	Bots int
	// Ranges counts the prefixes written per bot.
	Ranges map[string]int
	// Failed holds the bots whose ranges could not be fetched: their
	// previous file, if any, stays.
	Failed map[string]error
}

// ErrChecksum is returned when the directory file does not match its checksum.
var ErrChecksum = errors.New("bot directory checksum mismatch")

// Update fetches the directory (checking its SHA-256) and every published
// range list it names, checks each, and writes them under cfg.Output. A
// file is replaced only by a good one (written beside it, then renamed),
// so a failed update leaves the previous state usable. The error is nil
// when the directory was written, even if some range lists failed (see
// UpdateResult.Failed).
func Update(ctx context.Context, cfg UpdateConfig) (*UpdateResult, error) {
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Output == "" {
		return nil, errors.New("bots update: no output directory")
	}
	data := BuiltinDirectoryYAML()
	if cfg.DirectoryURL != "" {
		var err error
		if data, err = fetchBytes(ctx, hc, cfg.DirectoryURL); err != nil {
			return nil, fmt.Errorf("fetch bot directory %s: %w", cfg.DirectoryURL, err)
		}
		want := cfg.SHA256
		if want == "" {
			sum, err := fetchBytes(ctx, hc, cfg.DirectoryURL+".sha256")
			if err != nil {
				return nil, fmt.Errorf("fetch checksum %s.sha256: %w", cfg.DirectoryURL, err)
			}
			if f := strings.Fields(string(sum)); len(f) > 0 {
				want = f[0]
			}
		}
		got := sha256.Sum256(data)
		if !strings.EqualFold(want, hex.EncodeToString(got[:])) {
			return nil, fmt.Errorf("%w: %s has SHA-256 %x, want %q", ErrChecksum, cfg.DirectoryURL, got, want)
		}
	}
	dir, err := ParseDirectory(data)
	if err != nil {
		return nil, fmt.Errorf("fetched directory: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.Output, "ranges"), 0o755); err != nil {
		return nil, fmt.Errorf("bots update: %w", err)
	}
	res := &UpdateResult{Bots: len(dir.Bots), Ranges: map[string]int{}, Failed: map[string]error{}}
	fetched := map[string][]byte{} // several bots share one list (msnbot, bingbot)
	for _, e := range dir.Bots {
		if e.RangesURL == "" {
			continue
		}
		body, ok := fetched[e.RangesURL]
		if !ok {
			body, err = fetchBytes(ctx, hc, e.RangesURL)
			if err == nil {
				fetched[e.RangesURL] = body
			}
		}
		var prefixes []netip.Prefix
		if err == nil {
			prefixes, err = ParseRanges(body)
		}
		if err == nil {
			err = writeAtomic(filepath.Join(cfg.Output, "ranges", e.Name+".json"), body)
		}
		if err != nil {
			res.Failed[e.Name] = fmt.Errorf("ranges of %s from %s: %w", e.Name, e.RangesURL, err)
			err = nil
			continue
		}
		res.Ranges[e.Name] = len(prefixes)
	}
	if err := writeAtomic(filepath.Join(cfg.Output, DirectoryFile), data); err != nil {
		return res, err
	}
	return res, writeSums(cfg.Output)
}

// writeSums writes SHA256SUMS over the files of an updated directory
// (`sha256sum -c SHA256SUMS` checks them).
func writeSums(root string) error {
	var lines []string
	files, _ := filepath.Glob(filepath.Join(root, "ranges", "*.json"))
	files = append(files, filepath.Join(root, DirectoryFile))
	slices.Sort(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("checksum %s: %w", f, err)
		}
		rel, _ := filepath.Rel(root, f)
		lines = append(lines, fmt.Sprintf("%x  %s", sha256.Sum256(b), filepath.ToSlash(rel)))
	}
	return writeAtomic(filepath.Join(root, "SHA256SUMS"), []byte(strings.Join(lines, "\n")+"\n"))
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
