package scoring

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRuleFileSection(t *testing.T) {
	f := func(in string, check func(c Config)) {
		t.Helper()
		c, err := ParseRuleFileSection([]byte(in))
		if err != nil {
			t.Fatalf("parse %q: %v", in, err)
		}
		check(c)
	}
	def := DefaultConfig()
	f("", func(c Config) {
		if len(c.Weights) != len(def.Weights) || len(c.SensitivePaths) != len(def.SensitivePaths) {
			t.Fatalf("empty file must give defaults")
		}
	})
	f("rules:\n  - name: x\nthresholds: {block: 90}\n", func(c Config) {
		if c.Weights["rate_10s"] != def.Weights["rate_10s"] {
			t.Fatalf("missing features key must give defaults")
		}
	})
	f("features:\n  weights:\n    rate_10s: {weight: 50}\n  login_paths: [/signin]\n", func(c Config) {
		w := c.Weights["rate_10s"]
		if w.Weight != 50 || w.From != def.Weights["rate_10s"].From || w.To != def.Weights["rate_10s"].To {
			t.Fatalf("weight merge: %+v", w)
		}
		if c.Weights["ua_tool"] != def.Weights["ua_tool"] {
			t.Fatalf("other weights must keep defaults")
		}
		if len(c.LoginPaths) != 1 || c.LoginPaths[0] != "/signin" {
			t.Fatalf("list must replace: %v", c.LoginPaths)
		}
		if len(c.SensitivePaths) != len(def.SensitivePaths) {
			t.Fatalf("other lists keep defaults")
		}
	})
}

func TestParseRuleFileSectionErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		_, err := ParseRuleFileSection([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("parse %q: error %v, want it to contain %q", in, err, want)
		}
	}
	f("features:\n  bogus: 1\n", `line 2: unknown field "bogus"`)
	f("features:\n  weights:\n    rate_99s: {weight: 1}\n", `line 3: unknown field "rate_99s"`)
	f("features:\n  weights:\n    rate_10s: {weight: 1, frm: 2}\n", `line 3: unknown field "frm"`)
	f("features:\n  weights:\n    rate_10s: {weight: 101}\n", "not within 0..100")
	f("features:\n  static_asset_extensions: [css]\n", "must start with a dot")
	f("features:\n  login_paths: [login]\n", "must start with /")
	f("features: [1, 2]\n", "must be a mapping")
	_, err := ParseRuleFileSection([]byte("features:\n  x: 1\n"))
	if !errors.Is(err, ErrUnknownField) {
		t.Fatalf("want ErrUnknownField, got %v", err)
	}
}

func TestLoadRuleFileSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte("features:\n  tool_ua_patterns: [mybot]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadRuleFileSection(p)
	if err != nil || len(c.ToolUAPatterns) != 1 {
		t.Fatalf("load: %v %v", c.ToolUAPatterns, err)
	}
	if _, err := LoadRuleFileSection(p + ".missing"); err == nil {
		t.Fatal("missing file must fail")
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSignalStrength(t *testing.T) {
	f := func(s Signal, v, want float64) {
		t.Helper()
		if got := s.Strength(v); got != want {
			t.Fatalf("%+v.Strength(%v) = %v, want %v", s, v, got, want)
		}
	}
	f(Signal{Weight: 1, From: 0, To: 10}, 5, 0.5)
	f(Signal{Weight: 1, From: 0, To: 10}, -1, 0)
	f(Signal{Weight: 1, From: 0, To: 10}, 11, 1)
	f(Signal{Weight: 1, From: 1, To: 0}, 0.25, 0.75)
	f(Signal{Weight: 1, From: 0, To: 0}, 0, 1)
}

func FuzzParseRuleFileSection(f *testing.F) {
	f.Add("features:\n  weights:\n    rate_10s: {weight: 50}\n")
	f.Add("features:\n  login_paths: [/signin]\n")
	f.Add("rules: []\n")
	f.Add("features: null\n")
	f.Add("features:\n  weights: [1]\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseRuleFileSection([]byte(in))
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("parsed config does not validate: %v", err)
			}
		}
	})
}
