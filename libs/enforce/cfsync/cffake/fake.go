// Package cffake is an in-process fake of the parts of Cloudflare's v4 API
// that Bulwark uses: account IP lists, their items, and asynchronous bulk
// operations. It follows the documented behaviour (response envelope, cursor
// paging, one pending bulk operation per account with 429 otherwise, the IP
// formats lists accept, rate-limit headers) so that the syncer is tested
// against the rules it meets in production, and it can inject 429 storms
// and 5xx outages.
package cffake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"time"
)

// Config sets up a fake.
type Config struct {
	Token     string // the accepted API token (Authorization: Bearer ...)
	AccountID string
	// OpDelay is how long a bulk operation stays pending/running before it
	// completes (and its items change the list). Default 50ms.
	OpDelay time.Duration
	// RateLimit requests per RateWindow per token (Cloudflare: 1,200 per 5
	// minutes). Zero: 1,200 per 5 minutes.
	RateLimit  int
	RateWindow time.Duration
	// MaxPerPage caps per_page on item listing; a larger per_page is a 400.
	// Default 500. Without per_page a page has 25 items.
	MaxPerPage int
}

// Item is one list item as stored.
type Item struct {
	ID         string
	IP         string
	Comment    string
	CreatedOn  time.Time
	ModifiedOn time.Time
}

type list struct {
	ID          string
	Name        string
	Kind        string
	Description string
	CreatedOn   time.Time
	ModifiedOn  time.Time
	items       map[string]*Item // by ID
}

type operation struct {
	ID       string
	created  time.Time
	done     bool
	status   string // pending, running, completed, failed
	errMsg   string
	complete time.Time
	apply    func() // changes the list when the operation completes
	fail     bool
}

// Stats counts the requests the fake has answered.
type Stats struct {
	Requests     int            // every request, rejected ones included
	ByRoute      map[string]int // "GET items", "POST items", "DELETE items", "PUT items", "GET bulk_operations", ...
	ByStatus     map[int]int
	ItemsAdded   int // items created by completed operations
	ItemsUpdated int // existing items whose comment a POST replaced
	ItemsRemoved int // items removed by completed operations
	Operations   int // bulk operations accepted
	Rejected429  int // writes rejected because an operation was pending
}

// Server is a running fake.
type Server struct {
	*httptest.Server
	cfg Config

	mu      sync.Mutex
	lists   map[string]*list // by ID
	ops     map[string]*operation
	pending *operation // the one pending operation of the account, if any
	stats   Stats
	window  time.Time // start of the current rate-limit window
	used    int       // requests in the current window

	// fault injection
	storm      int           // next N requests answered 429
	stormAfter time.Duration // Retry-After sent with storm 429s
	outage     int           // status of an ongoing outage (0: none)
	failOps    int           // next N operations end as failed
	now        func() time.Time
}

// New starts a fake on a loopback port. Close it when done.
func New(cfg Config) *Server {
	if cfg.OpDelay == 0 {
		cfg.OpDelay = 50 * time.Millisecond
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 1200
	}
	if cfg.RateWindow == 0 {
		cfg.RateWindow = 5 * time.Minute
	}
	if cfg.MaxPerPage == 0 {
		cfg.MaxPerPage = 500
	}
	s := &Server{
		cfg:   cfg,
		lists: map[string]*list{},
		ops:   map[string]*operation{},
		stats: Stats{ByRoute: map[string]int{}, ByStatus: map[int]int{}},
		now:   time.Now,
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// BaseURL is what a client sets as the API base URL (".../client/v4/").
func (s *Server) BaseURL() string { return s.URL + "/client/v4/" }

// Storm answers the next n requests with 429 and the given Retry-After.
func (s *Server) Storm(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storm, s.stormAfter = n, retryAfter
}

// Outage answers every request with status (a 5xx) until Outage(0).
func (s *Server) Outage(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = status
}

// FailOperations makes the next n bulk operations end as failed, leaving the
// list as it was.
func (s *Server) FailOperations(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failOps = n
}

// Stats returns a copy of the request counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.stats
	c.ByRoute, c.ByStatus = map[string]int{}, map[int]int{}
	for k, v := range s.stats.ByRoute {
		c.ByRoute[k] = v
	}
	for k, v := range s.stats.ByStatus {
		c.ByStatus[k] = v
	}
	return c
}

// CreateList makes a list directly (as an operator in the dashboard would)
// and returns its ID.
func (s *Server) CreateList(name, kind string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createList(name, kind, "").ID
}

// Seed puts items into the named list directly, bypassing operations, as if
// they had been there before (stale items, foreign items added by hand).
func (s *Server) Seed(listName string, items ...Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.byName(listName)
	if l == nil {
		l = s.createList(listName, "ip", "")
	}
	for _, it := range items {
		ip, err := normalizeIP(it.IP)
		if err != nil {
			panic("cffake.Seed: " + err.Error())
		}
		now := s.now()
		n := &Item{ID: newID(), IP: ip, Comment: it.Comment, CreatedOn: now, ModifiedOn: now}
		l.items[n.ID] = n
	}
}

// Items returns the items of the named list sorted by IP (nil if there is
// no such list). Pending operations that are due are applied first.
func (s *Server) Items(listName string) []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	l := s.byName(listName)
	if l == nil {
		return nil
	}
	out := make([]Item, 0, len(l.items))
	for _, it := range l.items {
		out = append(out, *it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP < out[j].IP })
	return out
}

// IPs returns the IPs of the named list, sorted.
func (s *Server) IPs(listName string) []string {
	items := s.Items(listName)
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.IP
	}
	return out
}

func (s *Server) byName(name string) *list {
	for _, l := range s.lists {
		if l.Name == name {
			return l
		}
	}
	return nil
}

func (s *Server) createList(name, kind, desc string) *list {
	now := s.now()
	l := &list{ID: newID(), Name: name, Kind: kind, Description: desc, CreatedOn: now, ModifiedOn: now, items: map[string]*Item{}}
	s.lists[l.ID] = l
	return l
}

// advance moves bulk operations along their states by the clock: pending for
// the first half of OpDelay, running for the second, then completed or
// failed. Called with mu held on every request, so no timer is needed.
func (s *Server) advance() {
	now := s.now()
	for _, op := range s.ops {
		if op.done {
			continue
		}
		age := now.Sub(op.created)
		switch {
		case age >= s.cfg.OpDelay:
			op.done = true
			op.complete = now
			if op.fail {
				op.status = "failed"
				op.errMsg = "the operation failed: internal error while processing the list items"
			} else {
				op.status = "completed"
				op.apply()
			}
			if s.pending == op {
				s.pending = nil
			}
		case age >= s.cfg.OpDelay/2:
			op.status = "running"
		}
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// StartForeignOperation queues a bulk operation as another tool on the same
// account would (adding ips to the named list), so that the account has a
// pending operation and writes get 429 until it completes.
func (s *Server) StartForeignOperation(listName string, ips ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	l := s.byName(listName)
	if l == nil {
		return fmt.Errorf("no list %q", listName)
	}
	if s.pending != nil {
		return fmt.Errorf("an operation is already pending")
	}
	norm := make([]string, len(ips))
	for i, ip := range ips {
		n, err := normalizeIP(ip)
		if err != nil {
			return err
		}
		norm[i] = n
	}
	op := &operation{ID: newID(), created: s.now(), status: "pending", apply: func() {
		now := s.now()
		for _, ip := range norm {
			it := &Item{ID: newID(), IP: ip, CreatedOn: now, ModifiedOn: now}
			l.items[it.ID] = it
		}
	}}
	s.ops[op.ID] = op
	s.pending = op
	return nil
}

// Contains reports whether the named list holds ip (in its stored spelling).
func (s *Server) Contains(listName, ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	l := s.byName(listName)
	if l == nil {
		return false
	}
	for _, it := range l.items {
		if it.IP == ip {
			return true
		}
	}
	return false
}
