// Package robots holds a site's robots.txt files, one per host, and says
// whether a bot's robots.txt group lets it fetch a path. Parsing is
// github.com/temoto/robotstxt (groups, Allow/Disallow precedence, wildcards
// and "$" as Google documents them).
package robots

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/temoto/robotstxt"
)

// Source is where one host's robots.txt comes from.
type Source struct {
	// Host is the site's host name as requests carry it ("shop.example"),
	// or "*" for every host without its own.
	Host string
	// Location is a file path or an http(s) URL.
	Location string
}

// ErrBadSpec is wrapped by errors about a robots specification.
var ErrBadSpec = errors.New("bad robots.txt specification")

// ParseSpec reads "HOST=LOCATION,HOST=LOCATION" ("*" as HOST: every other
// host), the form of BULWARK_CHSINK_ROBOTS. An empty spec is no sources.
func ParseSpec(spec string) ([]Source, error) {
	var out []Source
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		host, loc, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(host) == "" || strings.TrimSpace(loc) == "" {
			return nil, fmt.Errorf("%w: %q: want HOST=FILE_OR_URL", ErrBadSpec, part)
		}
		out = append(out, Source{Host: strings.TrimSpace(host), Location: strings.TrimSpace(loc)})
	}
	return out, nil
}

// Set is the robots.txt of each host. It is immutable once loaded, so safe
// for concurrent use; a nil Set disallows nothing.
type Set struct {
	byHost map[string]*robotstxt.RobotsData
	other  *robotstxt.RobotsData
}

// Load reads every source. A URL answering 4xx means "no robots.txt"
// (everything allowed), as crawlers read it; a 5xx, a network error or a
// missing file is an error: a site policy that cannot be read must not
// silently become "allow all".
func Load(ctx context.Context, sources []Source, hc *http.Client) (*Set, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	s := &Set{byHost: map[string]*robotstxt.RobotsData{}}
	for _, src := range sources {
		rd, err := load(ctx, src.Location, hc)
		if err != nil {
			return nil, fmt.Errorf("robots.txt of %s from %s: %w", src.Host, src.Location, err)
		}
		if src.Host == "*" {
			s.other = rd
		} else {
			s.byHost[normHost(src.Host)] = rd
		}
	}
	return s, nil
}

func load(ctx context.Context, loc string, hc *http.Client) (*robotstxt.RobotsData, error) {
	if !strings.HasPrefix(loc, "http://") && !strings.HasPrefix(loc, "https://") {
		b, err := os.ReadFile(loc)
		if err != nil {
			return nil, err
		}
		return robotstxt.FromBytes(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 512<<10)) // Google reads the first 500 KiB
	if err != nil {
		return nil, err
	}
	return robotstxt.FromStatusAndBytes(resp.StatusCode, body)
}

func normHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

// Disallowed reports whether the robots.txt of host forbids the bot whose
// product token is token (its robots.txt group, falling back to "*") to
// fetch path (with its query, if any). No robots.txt for host: false.
func (s *Set) Disallowed(host, token, path string) bool {
	if s == nil || token == "" {
		return false
	}
	rd := s.byHost[normHost(host)]
	if rd == nil {
		rd = s.other
	}
	if rd == nil {
		return false
	}
	if path == "" {
		path = "/"
	}
	return !rd.TestAgent(path, token)
}

// Len is how many hosts have a robots.txt (the "*" fallback counts as one).
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	n := len(s.byHost)
	if s.other != nil {
		n++
	}
	return n
}
