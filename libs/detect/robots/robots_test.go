package robots_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/detect/robots"
)

const shopRobots = `User-agent: *
Disallow: /cart
Disallow: /checkout
Disallow: /*?sort=

User-agent: GPTBot
Disallow: /

User-agent: Googlebot
Allow: /
Disallow: /search
`

func TestDisallowed(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "robots.txt")
	if err := os.WriteFile(file, []byte(shopRobots), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Host {
		default:
			_, _ = w.Write([]byte("User-agent: *\nDisallow: /private/\n"))
		}
	}))
	defer srv.Close()
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	sources, err := robots.ParseSpec("shop.example=" + file + ", blog.example=" + srv.URL + "/robots.txt,nothing.example=" + missing.URL + "/robots.txt")
	if err != nil {
		t.Fatal(err)
	}
	s, err := robots.Load(context.Background(), sources, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, token, path string
		want              bool
	}{
		{"shop.example", "GPTBot", "/p/1", true},
		{"SHOP.example:443", "GPTBot", "/", true},
		{"shop.example", "Googlebot", "/p/1", false},
		{"shop.example", "Googlebot", "/search?q=x", true},
		{"shop.example", "Googlebot", "/cart", false}, // its own group allows it
		{"shop.example", "AhrefsBot", "/cart", true},  // falls back to *
		{"shop.example", "AhrefsBot", "/c/shoes?sort=price", true},
		{"shop.example", "AhrefsBot", "/c/shoes", false},
		{"shop.example", "", "/cart", false}, // no token: not a declared bot
		{"blog.example", "AhrefsBot", "/private/x", true},
		{"blog.example", "AhrefsBot", "/post", false},
		{"nothing.example", "GPTBot", "/anything", false}, // 404: everything allowed
		{"other.example", "GPTBot", "/", false},           // no robots.txt known
	} {
		if got := s.Disallowed(tc.host, tc.token, tc.path); got != tc.want {
			t.Errorf("Disallowed(%s, %s, %s) = %v, want %v", tc.host, tc.token, tc.path, got, tc.want)
		}
	}
	var nilSet *robots.Set
	if nilSet.Disallowed("shop.example", "GPTBot", "/") {
		t.Fatal("a nil set disallows")
	}
}

func TestLoadErrors(t *testing.T) {
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusBadGateway) }))
	defer broken.Close()
	for _, spec := range []string{"a.example=/no/such/robots.txt", "a.example=" + broken.URL} {
		src, err := robots.ParseSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := robots.Load(context.Background(), src, nil); err == nil {
			t.Errorf("%s: loaded", spec)
		}
	}
	for _, spec := range []string{"a.example", "=x", "a.example="} {
		if _, err := robots.ParseSpec(spec); !errors.Is(err, robots.ErrBadSpec) {
			t.Errorf("ParseSpec(%q): %v", spec, err)
		}
	}
}

func FuzzDisallowed(f *testing.F) {
	f.Add([]byte(shopRobots), "GPTBot", "/p/1")
	f.Add([]byte("User-agent: *\nDisallow: /*$\n"), "x", "/")
	f.Fuzz(func(t *testing.T, body []byte, token, path string) {
		dir := t.TempDir()
		file := filepath.Join(dir, "robots.txt")
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := robots.Load(context.Background(), []robots.Source{{Host: "*", Location: file}}, nil)
		if err != nil {
			return // a parse error is reported, not a crash
		}
		s.Disallowed("h", token, path)
	})
}
