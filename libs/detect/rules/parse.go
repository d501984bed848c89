// Package rules reads the rule file: the thresholds of the action ladder,
// verdict TTLs and escalation, allow lists, crawler verification, learning
// mode and rules written as expressions (expr-lang) over a score's features
// and the request that produced it. default.yaml, shipped inside the
// binary, documents every field and is the rule file when none is given.
package rules

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"io"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/gaissmai/bart"
	"go.yaml.in/yaml/v3"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the shipped rule file, comments included: the start
// of an operator's own file.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Default returns the shipped rule set. The file is checked by the tests,
// so it cannot fail at run time.
func Default() *RuleSet {
	rs, err := Parse(defaultYAML, "default")
	if err != nil {
		panic("rules: the shipped default.yaml is invalid: " + err.Error())
	}
	return rs
}

// Load reads and compiles the rule file at path.
func Load(path string) (*RuleSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rule file: %w", err)
	}
	return Parse(data, path)
}

// LoadOrDefault is Load, or Default when path is "".
func LoadOrDefault(path string) (*RuleSet, error) {
	if path == "" {
		return Default(), nil
	}
	return Load(path)
}

// Parse compiles a rule file read over the shipped default; name is used in
// error messages ("rules.yaml:12: rules[2].when: ..."). Every problem found
// is reported, joined; each wraps ErrInvalid.
func Parse(data []byte, name string) (*RuleSet, error) {
	return ParseWithLive(data, name, nil)
}

// ParseWithLive is Parse with the live policy (live.go) laid over the
// file; nil or empty live is Parse. The digest covers both.
func ParseWithLive(data []byte, name string, live []byte) (*RuleSet, error) {
	pol, err := ParseLive(live)
	if err != nil {
		return nil, err
	}
	spec, err := decodeSpec(defaultYAML, "default", nil, nil)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, lineError(name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if spec, err = decodeSpec(data, name, spec, &root); err != nil {
		return nil, err
	}
	pol.apply(spec)
	sum := sha256.Sum256(data)
	c := &compiler{e: errs{source: name, root: &root}}
	rs := c.compile(spec)
	if err := c.e.err(); err != nil {
		return nil, err
	}
	if err := pol.applyRules(rs); err != nil {
		return nil, err
	}
	rs.Source, rs.Digest = name, hex.EncodeToString(sum[:6])
	if !pol.Empty() {
		psum := sha256.Sum256(live)
		rs.Source, rs.Digest = name+" + live policy", rs.Digest+"+"+hex.EncodeToString(psum[:4])
	}
	return rs, nil
}

// decodeSpec decodes data over base (nil: the zero spec), refusing unknown
// fields. An empty file changes nothing.
func decodeSpec(data []byte, name string, base *fileSpec, root *yaml.Node) (*fileSpec, error) {
	spec := &fileSpec{}
	if base != nil {
		*spec = *base
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(spec); err != nil && !errors.Is(err, io.EOF) {
		e := errs{source: name, root: root}
		e.decodeError(err)
		return nil, e.err()
	}
	return spec, nil
}

var ruleName = regexp.MustCompile(`^[a-z0-9_]+$`)

type compiler struct{ e errs }

func (c *compiler) compile(s *fileSpec) *RuleSet {
	e := &c.e
	rs := &RuleSet{Learning: s.Learning, UnblockGrace: s.Overrides.UnblockGrace}
	if s.Version != 1 {
		e.at([]any{"version"}, "unsupported version %d (want 1)", s.Version)
	}

	l := s.Ladder
	rs.Ladder = Ladder(l)
	if !(l.Monitor > 0 && l.Monitor < l.Challenge && l.Challenge < l.Block && l.Block <= 100) {
		e.at([]any{"ladder"}, "thresholds must rise within 0..100: 0 < monitor (%v) < challenge (%v) < block (%v) <= 100", l.Monitor, l.Challenge, l.Block)
	}

	rs.TTL = TTL{Monitor: s.TTL.Monitor, Challenge: s.TTL.Challenge, Block: s.TTL.Block, ExtendBelow: s.TTL.ExtendBelow}
	for _, f := range []struct {
		key string
		d   time.Duration
	}{{"monitor", s.TTL.Monitor}, {"challenge", s.TTL.Challenge}, {"block", s.TTL.Block}} {
		if f.d < time.Second {
			e.at([]any{"ttl", f.key}, "must be at least 1s, got %v", f.d)
		}
	}
	if !(s.TTL.ExtendBelow > 0 && s.TTL.ExtendBelow <= 1) {
		e.at([]any{"ttl", "extend_below"}, "must be within (0, 1], got %v", s.TTL.ExtendBelow)
	}

	rs.Escalation = Escalation{Factor: s.Escalation.Factor, MaxTTL: s.Escalation.MaxTTL, Window: s.Escalation.Window}
	if s.Escalation.Factor < 1 || s.Escalation.Factor > 100 {
		e.at([]any{"escalation", "factor"}, "must be within 1..100 (1: no escalation), got %v", s.Escalation.Factor)
	}
	if s.Escalation.MaxTTL < 0 {
		e.at([]any{"escalation", "max_ttl"}, "must not be negative")
	}
	if s.Escalation.Window < 0 {
		e.at([]any{"escalation", "window"}, "must not be negative")
	}
	if s.Overrides.UnblockGrace < 0 {
		e.at([]any{"overrides", "unblock_grace"}, "must not be negative")
	}

	rs.Allow = c.allow(s.Allow)
	rs.CrawlersEnabled, rs.Crawlers = s.Crawlers.Enabled, c.crawlers(s.Crawlers)
	rs.Bots = c.bots(s.Bots, rs.Crawlers.Crawlers)
	rs.Rules = c.rules(s.Rules)

	if s.Features.Kind != 0 {
		if err := s.Features.Decode(&rs.Features); err != nil {
			e.decodeError(err)
		} else if err := rs.Features.Validate(); err != nil {
			e.at([]any{"features"}, "%s", strings.TrimPrefix(err.Error(), "features."))
		}
	} else {
		rs.Features = scoring.DefaultConfig()
	}
	rs.Model = c.model(s.Model)
	return rs
}

// DefaultModelWeight is model.DefaultWeight.
const DefaultModelWeight = model.DefaultWeight

// model checks the `model:` section. The file itself is read by the
// aggregator (and replay), which refuse to start on a bad one.
func (c *compiler) model(s model.SpecYAML) ModelSpec {
	out, err := s.Compile(c.e.source)
	var se *model.SpecError
	if errors.As(err, &se) {
		var path []any
		for _, k := range strings.Split(se.Key, ".") {
			path = append(path, k)
		}
		c.e.at(path, "%v", se.Err)
	}
	return out
}

func (c *compiler) allow(s allowSpec) *AllowList {
	a := &AllowList{cidrs: new(bart.Lite), subjects: map[string]struct{}{}}
	for i, v := range s.CIDRs {
		p, err := netip.ParsePrefix(strings.TrimSpace(v))
		if err != nil {
			addr, aerr := netip.ParseAddr(strings.TrimSpace(v))
			if aerr != nil {
				c.e.at([]any{"allow", "cidrs", i}, "%q is not a CIDR or an IP address", v)
				continue
			}
			p = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		a.cidrs.Insert(p.Masked())
	}
	for i, v := range s.Subjects {
		canon, err := subject.Canonical(strings.TrimSpace(v))
		if err != nil {
			c.e.at([]any{"allow", "subjects", i}, "%v", err)
			continue
		}
		a.subjects[canon] = struct{}{}
	}
	return a
}

func (c *compiler) crawlers(s crawlersSpec) crawlers.Config {
	cfg := crawlers.Config{
		RDNS: s.RDNS, RDNSTimeout: s.RDNSTimeout, CacheTTL: s.CacheTTL, CacheSize: s.CacheSize, Refresh: s.Refresh,
		RangesValid: s.RangesValid,
	}
	for _, f := range []struct {
		key string
		bad bool
	}{
		{"rdns_timeout", s.RDNSTimeout <= 0}, {"cache_ttl", s.CacheTTL <= 0},
		{"cache_size", s.CacheSize <= 0}, {"refresh", s.Refresh < 0}, {"ranges_valid", s.RangesValid < 0},
	} {
		if f.bad {
			c.e.at([]any{"crawlers", f.key}, "must be positive")
		}
	}
	// The operator's own entries come first: the first pattern that
	// matches wins, and an entry named like a directory bot replaces it.
	seen := map[string]bool{}
	for i, cs := range s.List {
		at := func(k string) []any { return []any{"crawlers", "list", i, k} }
		if cs.Name == "" || !crawlerName.MatchString(cs.Name) {
			c.e.at(at("name"), "%q: want a name of [a-z0-9_-]", cs.Name)
		} else if seen[cs.Name] {
			c.e.at(at("name"), "crawler %q is listed twice", cs.Name)
		}
		seen[cs.Name] = true
		re, err := regexp.Compile(cs.UserAgent)
		if err != nil || cs.UserAgent == "" {
			c.e.at(at("user_agent"), "not a regular expression: %q %v", cs.UserAgent, err)
			continue
		}
		if cs.Category == "" {
			cs.Category = "search" // what every entry was before categories
		} else if !slices.Contains(crawlers.Categories, cs.Category) {
			c.e.at(at("category"), "unknown category %q (known: %s)", cs.Category, strings.Join(crawlers.Categories, ", "))
		}
		var date time.Time
		if cs.RangesDate != "" {
			if date, err = time.Parse(time.DateOnly, cs.RangesDate); err != nil {
				c.e.at(at("ranges_date"), "%q: want YYYY-MM-DD", cs.RangesDate)
			}
		}
		switch {
		case cs.Ranges == "":
			if len(cs.RDNSSuffixes) == 0 && cs.RangesURL == "" {
				c.e.at(at("ranges"), "crawler %s has neither ranges nor rdns_suffixes: it could never be verified", cs.Name)
			}
		case cs.Ranges == "builtin" || strings.HasPrefix(cs.Ranges, "builtin:"):
			name := cs.Name
			if other, ok := strings.CutPrefix(cs.Ranges, "builtin:"); ok {
				name = other
			}
			if _, err := crawlers.Builtin(name); err != nil {
				c.e.at(at("ranges"), "%v", err)
			}
		default:
			data, err := os.ReadFile(cs.Ranges)
			if err == nil {
				_, err = crawlers.ParseRanges(data)
			}
			if err != nil {
				c.e.at(at("ranges"), "%v", err)
			}
		}
		for j, suf := range cs.RDNSSuffixes {
			if strings.Trim(suf, ".") == "" || strings.ContainsAny(suf, " /:") {
				c.e.at([]any{"crawlers", "list", i, "rdns_suffixes", j}, "%q is not a domain", suf)
			}
		}
		cfg.Crawlers = append(cfg.Crawlers, crawlers.Crawler{
			Name: cs.Name, Operator: cs.Operator, Category: cs.Category, RobotsToken: cs.RobotsToken,
			UserAgent: re, Ranges: cs.Ranges, RangesURL: cs.RangesURL, RangesDate: date, RDNSSuffixes: cs.RDNSSuffixes,
		})
	}
	dir, err := crawlers.LoadDirectory(s.Directory)
	if err != nil {
		c.e.at([]any{"crawlers", "directory"}, "%v", err)
		return cfg
	}
	fromDir, err := dir.Crawlers()
	if err != nil {
		c.e.at([]any{"crawlers", "directory"}, "%v", err)
		return cfg
	}
	for _, cr := range fromDir {
		if !seen[cr.Name] {
			cfg.Crawlers = append(cfg.Crawlers, cr)
		}
	}
	return cfg
}

var crawlerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// reserved rule names: the decider's own deciders.
var reserved = []string{"ladder", "operator", "allow_list", "verified_crawler", "bot_policy"}

func (c *compiler) rules(specs []ruleSpec) []*Rule {
	var out []*Rule
	seen := map[string]bool{}
	for i, s := range specs {
		at := func(k string) []any { return []any{"rules", i, k} }
		ok := true
		switch {
		case !ruleName.MatchString(s.Name):
			c.e.at(at("name"), "%q: want a name of [a-z0-9_]", s.Name)
			ok = false
		case slices.Contains(reserved, s.Name):
			c.e.at(at("name"), "%q is reserved (%s)", s.Name, strings.Join(reserved, ", "))
			ok = false
		case seen[s.Name]:
			c.e.at(at("name"), "rule %q is defined twice", s.Name)
			ok = false
		}
		seen[s.Name] = true
		action, err := verdict.ParseAction(s.Action)
		if err != nil {
			c.e.at(at("action"), "%v", err)
			ok = false
		}
		if s.TTL < 0 {
			c.e.at(at("ttl"), "must not be negative")
			ok = false
		}
		if strings.TrimSpace(s.When) == "" {
			c.e.at(at("when"), "missing: a boolean expression")
			continue
		}
		prog, err := expr.Compile(s.When, expr.Env(Env{}), expr.AsBool())
		if err == nil {
			err = checkFeatures(prog.Node())
		}
		if err != nil {
			c.e.at(at("when"), "%v", err)
			continue
		}
		if ok {
			out = append(out, &Rule{Name: s.Name, When: s.When, Action: action, TTL: s.TTL, Reason: s.Reason, Learning: s.Learning, program: prog})
		}
	}
	return out
}

// checkFeatures refuses `features.X` for a feature the aggregator does not
// compute: a typo would otherwise read 0 and the rule would never fire.
func checkFeatures(n ast.Node) error {
	v := &featureVisitor{}
	ast.Walk(&n, v)
	return v.err
}

type featureVisitor struct{ err error }

func (v *featureVisitor) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok || v.err != nil {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "features" {
		return
	}
	if s, ok := m.Property.(*ast.StringNode); ok && !slices.Contains(scoring.FeatureNames, s.Value) {
		v.err = fmt.Errorf("unknown feature %q (known: %s)", s.Value, strings.Join(scoring.FeatureNames, ", "))
	}
}
