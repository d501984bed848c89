package signatures

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the signature file that ships with Bulwark.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// FormatVersion is the only `version:` a signature file may have.
const FormatVersion = 1

// ErrInvalid wraps every error about a signature file's content.
var ErrInvalid = errors.New("invalid signature file")

// Categories are the signature categories, in feature order (each is the
// feature sig_<category>, except auth, which feeds the login-failure
// features instead).
var Categories = []string{
	"traversal", "injection", "exploit", "webshell", "sensitive_file",
	"admin_probe", "cms_probe", "protocol", "proxy", "scanner_ua", "auth",
}

// CategoryAuth marks auth endpoints: a failing POST there counts as a
// failed login, whatever the application.
const CategoryAuth = "auth"

// Severities, weakest first; a category's feature is the highest severity
// matched in its window.
const (
	SeverityLow    = 1
	SeverityMedium = 2
	SeverityHigh   = 3
)

var severities = map[string]uint8{"low": SeverityLow, "medium": SeverityMedium, "high": SeverityHigh}

// Fields a signature can look at.
var fieldNames = []string{"target", "raw", "ua", "referer", "method", "protocol"}

type fileSpec struct {
	Version    int       `yaml:"version"`
	Revision   string    `yaml:"revision"`
	Signatures []sigSpec `yaml:"signatures"`
}

type sigSpec struct {
	ID          string   `yaml:"id"`
	Category    string   `yaml:"category"`
	Severity    string   `yaml:"severity"`
	Reference   string   `yaml:"reference"`
	Description string   `yaml:"description"`
	Fields      []string `yaml:"fields"`
	Literals    []string `yaml:"literals"`
	Anchor      string   `yaml:"anchor"`
	Regex       string   `yaml:"regex"`
	NotIn       []string `yaml:"not_in"`
	Methods     []string `yaml:"methods"`
	Match       []string `yaml:"match"`
	NoMatch     []string `yaml:"no_match"`
	Disabled    bool     `yaml:"disabled"`
	line        int
}

func decode(data []byte, name string) (*fileSpec, error) {
	var s fileSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil {
		lines := sigLines(&root)
		for i := range s.Signatures {
			if i < len(lines) {
				s.Signatures[i].line = lines[i]
			}
		}
	}
	if s.Version != FormatVersion {
		return nil, fmt.Errorf("%w: %s: version %d: only version %d exists", ErrInvalid, name, s.Version, FormatVersion)
	}
	return &s, nil
}

// sigLines finds the line of each entry of `signatures:`, for errors.
func sigLines(root *yaml.Node) []int {
	if len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "signatures" {
			var out []int
			for _, n := range m.Content[i+1].Content {
				out = append(out, n.Line)
			}
			return out
		}
	}
	return nil
}

// Load reads the shipped signatures and, when path is not empty, the
// operator's file over them, and compiles and tests the result.
func Load(path string) (*Set, error) {
	base, err := decode(defaultYAML, "default.yaml")
	if err != nil {
		return nil, err
	}
	name := "default"
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read signature file: %w", err)
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, fmt.Errorf("%w: %s: empty file (write `version: 1` for no changes)", ErrInvalid, path)
		}
		over, err := decode(data, path)
		if err != nil {
			return nil, err
		}
		base = merge(base, over)
		name = path
	}
	return compile(base, name)
}

// Default returns the shipped set; it panics if that set is broken, which
// the package's tests rule out.
func Default() *Set {
	s, err := Load("")
	if err != nil {
		panic(err)
	}
	return s
}

// merge puts over's signatures over base's by id.
func merge(base, over *fileSpec) *fileSpec {
	out := &fileSpec{Version: over.Version, Revision: base.Revision}
	if over.Revision != "" {
		out.Revision = base.Revision + "+" + over.Revision
	}
	byID := map[string]int{}
	for _, s := range base.Signatures {
		byID[s.ID] = len(out.Signatures)
		out.Signatures = append(out.Signatures, s)
	}
	for _, s := range over.Signatures {
		if i, ok := byID[s.ID]; ok {
			out.Signatures[i] = s
			continue
		}
		byID[s.ID] = len(out.Signatures)
		out.Signatures = append(out.Signatures, s)
	}
	out.Signatures = slices.DeleteFunc(out.Signatures, func(s sigSpec) bool { return s.Disabled })
	return out
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// validate checks one signature's shape (its tests run after compiling).
func (s *sigSpec) validate() error {
	switch {
	case !idRE.MatchString(s.ID):
		return fmt.Errorf("id %q: want lower-case letters, digits and dashes", s.ID)
	case !slices.Contains(Categories, s.Category):
		return fmt.Errorf("category %q: want one of %s", s.Category, strings.Join(Categories, ", "))
	case severities[s.Severity] == 0:
		return fmt.Errorf("severity %q: want low, medium or high", s.Severity)
	case s.Reference == "":
		return errors.New("reference: say where the signature comes from (a CVE id, a CWE, an advisory)")
	case len(s.Fields) == 0:
		return errors.New("fields: name at least one of " + strings.Join(fieldNames, ", "))
	case len(s.Literals) == 0 && len(s.NotIn) == 0:
		return errors.New("literals: at least one (or not_in)")
	case len(s.Literals) > 0 && len(s.NotIn) > 0:
		return errors.New("literals and not_in: use one of them")
	case s.Regex != "" && len(s.Literals) == 0:
		return errors.New("regex: needs literals to select candidates (regular expressions only run behind a literal prefilter)")
	case s.Anchor != "" && s.Anchor != "start" && s.Anchor != "end" && s.Anchor != "exact":
		return fmt.Errorf("anchor %q: want start, end or exact", s.Anchor)
	case len(s.Match) == 0:
		return errors.New("match: at least one test string that must match")
	}
	for _, f := range s.Fields {
		if !slices.Contains(fieldNames, f) {
			return fmt.Errorf("fields: %q: want one of %s", f, strings.Join(fieldNames, ", "))
		}
	}
	for i, l := range s.Literals {
		if l == "" {
			return fmt.Errorf("literals[%d]: empty", i)
		}
	}
	return nil
}
