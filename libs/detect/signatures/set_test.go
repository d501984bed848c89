package signatures

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The shipped set loads, which runs every signature's own test strings.
func TestDefaultLoads(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sigs) < 40 {
		t.Fatalf("only %d signatures", len(s.Sigs))
	}
	cats := map[string]bool{}
	for _, sig := range s.Sigs {
		cats[sig.Category] = true
	}
	for _, c := range Categories {
		if !cats[c] {
			t.Errorf("no signature of category %s", c)
		}
	}
}

func ids(s *Set, hits []int) []string {
	var out []string
	for _, i := range hits {
		out = append(out, s.Sigs[i].ID)
	}
	return out
}

func TestMatch(t *testing.T) {
	s := Default()
	m := s.NewMatcher()
	f := func(r Request, want ...string) {
		t.Helper()
		got := ids(s, m.Match(r))
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("Match(%+v) = %v, want %v", r, got, want)
		}
	}
	f(Request{Method: "GET", Path: "/", Protocol: "HTTP/1.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"})
	f(Request{Method: "GET", Path: "/select-size", Protocol: "HTTP/1.1"})
	f(Request{Method: "GET", Path: "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", Protocol: "HTTP/1.1"},
		"traversal-sequence", "traversal-encoded", "shell-command", "cve-2021-41773", "admin-console-probe")
	f(Request{Method: "GET", Path: "/", Protocol: "HTTP/1.1", UserAgent: "${jndi:ldap://x/a}"}, "jndi-lookup")
	f(Request{Method: "G\\x00T", Path: "/x", Protocol: "HTTP/2.0"}, "unknown-method")
	f(Request{Method: "CONNECT", Path: "example.com:443", Protocol: "HTTP/1.1"}, "proxy-connect")
	f(Request{Method: "POST", Path: "/wp-login.php", Protocol: "HTTP/1.1"}, "cms-probe", "auth-endpoint")
	f(Request{Method: "GET", Path: "/wp-login.php", Protocol: "HTTP/1.1"}, "cms-probe")
}

func TestOverride(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok.yaml", `version: 1
revision: mine
signatures:
  - {id: cms-probe, disabled: true}
  - id: shop-secret
    category: sensitive_file
    severity: high
    reference: our incident 42
    fields: [target]
    literals: ["/internal-prices"]
    match: ["/internal-prices.csv"]
    no_match: ["/prices"]
`)
	s, err := Load(ok)
	if err != nil {
		t.Fatal(err)
	}
	m := s.NewMatcher()
	if got := ids(s, m.Match(Request{Method: "GET", Path: "/internal-prices.csv"})); !slices.Equal(got, []string{"shop-secret"}) {
		t.Fatalf("added signature: %v", got)
	}
	if got := ids(s, m.Match(Request{Method: "GET", Path: "/wp-includes/wlwmanifest.xml"})); len(got) != 0 {
		t.Fatalf("disabled signature still matches: %v", got)
	}
	for name, body := range map[string]string{
		"failing-test.yaml": "version: 1\nsignatures:\n  - {id: x, category: exploit, severity: high, reference: r, fields: [target], literals: [/a], match: [/b]}\n",
		"bad-category.yaml": "version: 1\nsignatures:\n  - {id: x, category: nope, severity: high, reference: r, fields: [target], literals: [/a], match: [/a]}\n",
		"regex-only.yaml":   "version: 1\nsignatures:\n  - {id: x, category: exploit, severity: high, reference: r, fields: [target], regex: a, match: [/a]}\n",
		"version.yaml":      "version: 2\n",
		"empty.yaml":        "",
		"unknown-key.yaml":  "version: 1\nsignaturez: []\n",
	} {
		_, err := Load(write(name, body))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		} else if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
}

func TestDecodeTarget(t *testing.T) {
	f := func(path, query, want string) {
		t.Helper()
		got, _ := decodeTarget(nil, nil, path, query)
		if string(got) != want {
			t.Fatalf("decodeTarget(%q, %q) = %q, want %q", path, query, got, want)
		}
	}
	f("/A%2fB", "", "/a/b")
	f("/..%252f..%252f", "", "/../../")
	f("/%c0%ae%c0%ae%c0%af", "", "/../")
	f(`/a\..\b`, "", "/a/../b")
	f(`/a\xC0\xAF`, "", "/a/")
	f("/x", "q=a+b%20c", "/x?q=a b c")
	f("/%u002e%u002e/", "", "/../")
	f("/%zz%", "", "/%zz%")
}

func FuzzMatch(f *testing.F) {
	s := Default()
	m := s.NewMatcher()
	for _, seed := range []string{"/", "/a?b=c", "/%c0%ae", "/..%252f", `/\x41`} {
		f.Add(seed, "ua")
	}
	f.Fuzz(func(t *testing.T, target, ua string) {
		path, query, _ := strings.Cut(target, "?")
		hits := m.Match(Request{Method: "GET", Path: path, Query: query, UserAgent: ua, Protocol: "HTTP/1.1"})
		if !slices.IsSorted(hits) {
			t.Fatalf("hits not sorted: %v", hits)
		}
	})
}
