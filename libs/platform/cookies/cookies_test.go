package cookies_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/cookies"
	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
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
	f.Add("a=1; xsid=2; sid=3", "sid")
	f.Add("a=sid=1; sid=2", "sid")
	f.Add("a=1; \t sid=2 ;", "sid")
	f.Add("==1", "")
	f.Fuzz(func(t *testing.T, header, name string) {
		v := cookies.Value(header, name)
		if want := splitValue(header, name); v != want {
			t.Fatalf("Value(%q, %q) = %q, splitting at ';' finds %q", header, name, v, want)
		}
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

// splitValue is the plain way of finding a cookie (split at ';', trim,
// compare the name), which Value must agree with everywhere.
func splitValue(header, name string) string {
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ";")
		part = strings.TrimLeft(part, " \t")
		if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
			v := strings.TrimRight(part[len(name)+1:], " \t")
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}

// BenchmarkValue finds the clearance cookie at the end of a browser's
// Cookie header of ten cookies, and a cookie it does not hold.
func BenchmarkValue(b *testing.B) {
	h := "_ga=GA1.1.1234567890.1733212345; _gid=GA1.1.987654321.1733212345; session=abc123; theme=dark; lang=en-GB; " +
		"cart=3; consent=necessary,analytics; ab=variant-b; tz=Europe/London; " +
		"bulwark_clearance=1.dev.AAAAAGdPLqABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGA.yHMSOhIcJSNXx2dP1uePxqvs4e3uLLYd8Ha3WUMnOB4"
	for _, c := range []struct{ name, cookie string }{{"present", "bulwark_clearance"}, {"absent", "sid"}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			stop := testkit.ThreadCPUPerOp(b)
			for b.Loop() {
				_ = cookies.Value(h, c.cookie)
			}
			stop()
		})
		b.Run(c.name+"/split", func(b *testing.B) {
			b.ReportAllocs()
			stop := testkit.ThreadCPUPerOp(b)
			for b.Loop() {
				_ = splitValue(h, c.cookie)
			}
			stop()
		})
	}
}
