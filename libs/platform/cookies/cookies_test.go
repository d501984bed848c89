package cookies_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/cookies"
)

func TestValue(t *testing.T) {
	f := func(header, name, want string) {
		t.Helper()
		if got := cookies.Value(header, name); got != want {
			t.Fatalf("Value(%q, %q) = %q, want %q", header, name, got, want)
		}
	}
	f("sid=abc", "sid", "abc")
	f("a=1; sid=abc; b=2", "sid", "abc")
	f("a=1;sid=abc", "sid", "abc")
	f(`a=1; sid="abc"; b=2`, "sid", "abc")
	f("a=1; sid=abc \t", "sid", "abc")
	f("xsid=1; sid=2", "sid", "2")
	f("sid=; a=1", "sid", "")
	f("sidx=1", "sid", "")
	f("", "sid", "")
	f("a=1; b=2", "sid", "")
	f(`sid="`, "sid", `"`)
}

func TestValueAllocatesNothing(t *testing.T) {
	h := "a=1; b=2; _ga=GA1.2.3; sid=abc; theme=dark"
	if n := testing.AllocsPerRun(100, func() { _ = cookies.Value(h, "sid") }); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}

// FuzzValue: never panics; a value found is a substring of the header, and
// agrees with net/http wherever net/http accepts the header's cookies.
func FuzzValue(f *testing.F) {
	f.Add("a=1; sid=\"abc\"; b=2", "sid")
	f.Add("sid=", "sid")
	f.Add(";;; sid = x", "sid")
	f.Fuzz(func(t *testing.T, header, name string) {
		v := cookies.Value(header, name)
		if v != "" && !strings.Contains(header, v) {
			t.Fatalf("Value(%q, %q) = %q: not in the header", header, name, v)
		}
		if name == "" || strings.ContainsAny(header, "\"\\\x00") {
			return
		}
		cs, err := http.ParseCookie(header)
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.Name == name {
				if c.Value != v && strings.Count(header, name+"=") == 1 {
					t.Fatalf("Value(%q, %q) = %q, net/http says %q", header, name, v, c.Value)
				}
				return
			}
		}
	})
}
