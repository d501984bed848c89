package crawlers

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The bot directory shipped with Bulwark (documented in the file itself).
//
//go:embed data/bots.yaml
var builtinDirectory []byte

// Categories are the kinds of bot a directory entry can be, in the order
// they are listed.
var Categories = []string{
	"search", "seo", "ai-training", "ai-assistant", "ai-search", "monitoring",
	"preview", "feed", "archive", "advertising", "other",
}

// ErrBadDirectory is wrapped by errors about a directory file that cannot be used.
var ErrBadDirectory = errors.New("bad bot directory")

// Entry is one bot of the directory.
type Entry struct {
	Name      string `yaml:"name" json:"name"`
	Operator  string `yaml:"operator" json:"operator"`
	Category  string `yaml:"category" json:"category"`
	UserAgent string `yaml:"user_agent" json:"user_agent"`
	// RobotsToken is the product token of its robots.txt group.
	RobotsToken string `yaml:"robots_token" json:"robots_token"`
	Ranges      string `yaml:"ranges" json:"ranges,omitempty"`
	RangesURL   string `yaml:"ranges_url" json:"ranges_url,omitempty"`
	// RangesDate pins the date the ranges are valid for (YYYY-MM-DD),
	// overriding the file's creationTime: for a saved historical list.
	RangesDate   string   `yaml:"ranges_date" json:"ranges_date,omitempty"`
	RDNSSuffixes []string `yaml:"rdns_suffixes" json:"rdns_suffixes,omitempty"`
	Source       string   `yaml:"source" json:"source"`
}

// Method says how a claim of the bot can be checked: "ranges+rdns",
// "ranges", "rdns", "declared" (no way), or "robots.txt token" (never sent
// as a User-Agent).
func (e Entry) Method() string {
	hasRanges := e.Ranges != "" || e.RangesURL != ""
	switch {
	case e.UserAgent == "":
		return "robots.txt token"
	case hasRanges && len(e.RDNSSuffixes) > 0:
		return "ranges+rdns"
	case hasRanges:
		return "ranges"
	case len(e.RDNSSuffixes) > 0:
		return "rdns"
	}
	return "declared"
}

// Directory is a parsed bot directory.
type Directory struct {
	Version int     `yaml:"version" json:"version"`
	Bots    []Entry `yaml:"bots" json:"bots"`
	// Dir is where the file was read from ("" for the shipped one): a
	// fetched range file DIR/ranges/NAME.json beside it replaces the
	// entry's ranges.
	Dir string `yaml:"-" json:"-"`
}

var botName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// BuiltinDirectoryYAML returns the shipped directory file.
func BuiltinDirectoryYAML() []byte { return bytes.Clone(builtinDirectory) }

// BuiltinDirectory returns the shipped directory. Its tests parse it, so it
// cannot fail at run time.
func BuiltinDirectory() *Directory {
	d, err := ParseDirectory(builtinDirectory)
	if err != nil {
		panic("crawlers: the shipped bots.yaml is invalid: " + err.Error())
	}
	return d
}

// LoadDirectory reads a directory: "builtin" or "" for the shipped one, a
// directory written by `bulwark bots update` (its bots.yaml), or a file.
func LoadDirectory(path string) (*Directory, error) {
	if path == "" || path == "builtin" {
		return BuiltinDirectory(), nil
	}
	file, dir := path, filepath.Dir(path)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		file, dir = filepath.Join(path, DirectoryFile), path
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read bot directory: %w", err)
	}
	d, err := ParseDirectory(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	d.Dir = dir
	return d, nil
}

// DirectoryFile is the name of the directory file in a directory written by Update.
const DirectoryFile = "bots.yaml"

// ParseDirectory parses and checks a directory file. Every problem is
// reported, joined.
func ParseDirectory(data []byte) (*Directory, error) {
	var d Directory
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadDirectory, err)
	}
	var errs []error
	bad := func(i int, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: bots[%d]: %s", ErrBadDirectory, i, fmt.Sprintf(format, a...)))
	}
	if d.Version != 1 {
		errs = append(errs, fmt.Errorf("%w: unsupported version %d (want 1)", ErrBadDirectory, d.Version))
	}
	if len(d.Bots) == 0 {
		errs = append(errs, fmt.Errorf("%w: no bots", ErrBadDirectory))
	}
	seen := map[string]bool{}
	for i, e := range d.Bots {
		if !botName.MatchString(e.Name) {
			bad(i, "name %q: want [a-z0-9_-]", e.Name)
		} else if seen[e.Name] {
			bad(i, "%s is listed twice", e.Name)
		}
		seen[e.Name] = true
		if !slices.Contains(Categories, e.Category) {
			bad(i, "%s: category %q is not one of %s", e.Name, e.Category, strings.Join(Categories, ", "))
		}
		if e.Operator == "" || e.Source == "" {
			bad(i, "%s: operator and source are required", e.Name)
		}
		if e.UserAgent != "" {
			if _, err := regexp.Compile(e.UserAgent); err != nil {
				bad(i, "%s: user_agent: %v", e.Name, err)
			}
		}
		if err := checkRangesSource(e.Name, e.Ranges); err != nil {
			bad(i, "%s: ranges: %v", e.Name, err)
		}
		if e.RangesURL != "" && !strings.HasPrefix(e.RangesURL, "https://") && !strings.HasPrefix(e.RangesURL, "http://") {
			bad(i, "%s: ranges_url %q is not an http(s) URL", e.Name, e.RangesURL)
		}
		if e.RangesDate != "" {
			if _, err := time.Parse(time.DateOnly, e.RangesDate); err != nil {
				bad(i, "%s: ranges_date %q: want YYYY-MM-DD", e.Name, e.RangesDate)
			}
		}
		for _, s := range e.RDNSSuffixes {
			if strings.Trim(s, ".") == "" || strings.ContainsAny(s, " /:") {
				bad(i, "%s: rdns_suffixes: %q is not a domain", e.Name, s)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &d, nil
}

// checkRangesSource checks a `ranges` value: "", builtin, builtin:NAME
// (a shipped file must exist) or a path (read when the verifier starts).
func checkRangesSource(name, src string) error {
	switch {
	case src == "":
		return nil
	case src == "builtin" || strings.HasPrefix(src, "builtin:"):
		_, err := readRanges(name, src)
		return err
	}
	return nil
}

// Crawlers turns the directory's matchable entries into verifier crawlers.
// A range file fetched by Update (Dir/ranges/NAME.json) replaces an
// entry's shipped ranges.
func (d *Directory) Crawlers() ([]Crawler, error) {
	out := make([]Crawler, 0, len(d.Bots))
	for _, e := range d.Bots {
		if e.UserAgent == "" {
			continue
		}
		c, err := e.Crawler()
		if err != nil {
			return nil, err
		}
		if d.Dir != "" {
			if f := filepath.Join(d.Dir, "ranges", e.Name+".json"); fileExists(f) {
				c.Ranges = f
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Crawler returns the verifier's form of the entry.
func (e Entry) Crawler() (Crawler, error) {
	re, err := regexp.Compile(e.UserAgent)
	if err != nil {
		return Crawler{}, fmt.Errorf("bot %s: user_agent: %w", e.Name, err)
	}
	c := Crawler{
		Name: e.Name, Operator: e.Operator, Category: e.Category, RobotsToken: e.RobotsToken,
		UserAgent: re, Ranges: e.Ranges, RangesURL: e.RangesURL, RDNSSuffixes: e.RDNSSuffixes,
	}
	if e.RangesDate != "" {
		if c.RangesDate, err = time.Parse(time.DateOnly, e.RangesDate); err != nil {
			return Crawler{}, fmt.Errorf("bot %s: ranges_date: %w", e.Name, err)
		}
	}
	return c, nil
}

// Lookup returns the entry named name.
func (d *Directory) Lookup(name string) (Entry, bool) {
	for _, e := range d.Bots {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
