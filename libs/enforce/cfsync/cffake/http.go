package cffake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// apiError is one entry of the envelope's "errors".
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// envelope is Cloudflare's v4 response shape.
type envelope struct {
	Success    bool        `json:"success"`
	Errors     []apiError  `json:"errors"`
	Messages   []apiError  `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *resultInfo `json:"result_info,omitempty"`
}

type resultInfo struct {
	Cursors *cursors `json:"cursors,omitempty"`
}

type cursors struct {
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

type listJSON struct {
	ID                    string `json:"id"`
	Name                  string `json:"name"`
	Description           string `json:"description"`
	Kind                  string `json:"kind"`
	NumItems              int    `json:"num_items"`
	NumReferencingFilters int    `json:"num_referencing_filters"`
	CreatedOn             string `json:"created_on"`
	ModifiedOn            string `json:"modified_on"`
}

type itemJSON struct {
	ID         string `json:"id"`
	IP         string `json:"ip"`
	Comment    string `json:"comment,omitempty"`
	CreatedOn  string `json:"created_on"`
	ModifiedOn string `json:"modified_on"`
}

type opJSON struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Completed string `json:"completed,omitempty"`
	Error     string `json:"error,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, e envelope) {
	if e.Errors == nil {
		e.Errors = []apiError{}
	}
	if e.Messages == nil {
		e.Messages = []apiError{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

func fail(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, envelope{Success: false, Errors: []apiError{{Code: code, Message: msg}}})
}

func ok(w http.ResponseWriter, result any, info *resultInfo) {
	writeJSON(w, http.StatusOK, envelope{Success: true, Result: result, ResultInfo: info})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	status := s.route(w, r)
	s.stats.Requests++
	s.stats.ByStatus[status]++
}

// route answers r and returns the status it wrote. Called with mu held.
func (s *Server) route(w http.ResponseWriter, r *http.Request) int {
	rest, found := strings.CutPrefix(r.URL.Path, "/client/v4/accounts/")
	if !found {
		fail(w, http.StatusNotFound, 7000, "No route for that URI")
		return http.StatusNotFound
	}
	seg := strings.Split(strings.Trim(rest, "/"), "/")
	routeName := r.Method + " " + routeOf(seg)
	s.stats.ByRoute[routeName]++

	if s.outage != 0 {
		fail(w, s.outage, 10000, "Internal Server Error: the service is unavailable")
		return s.outage
	}
	if s.storm > 0 {
		s.storm--
		w.Header().Set("Retry-After", strconv.Itoa(int(s.stormAfter.Seconds()+0.999)))
		fail(w, http.StatusTooManyRequests, 971, "Please wait and consider throttling your request speed")
		return http.StatusTooManyRequests
	}
	auth := r.Header.Get("Authorization")
	token, bearer := strings.CutPrefix(auth, "Bearer ")
	if !bearer {
		fail(w, http.StatusBadRequest, 6003, "Invalid request headers")
		return http.StatusBadRequest
	}
	if token != s.cfg.Token {
		fail(w, http.StatusForbidden, 10000, "Authentication error")
		return http.StatusForbidden
	}
	if !s.allow(w) {
		fail(w, http.StatusTooManyRequests, 971, "Please wait and consider throttling your request speed")
		return http.StatusTooManyRequests
	}
	if len(seg) < 3 || seg[1] != "rules" || seg[2] != "lists" {
		fail(w, http.StatusNotFound, 7000, "No route for that URI")
		return http.StatusNotFound
	}
	if seg[0] != s.cfg.AccountID {
		fail(w, http.StatusForbidden, 10000, "Authentication error")
		return http.StatusForbidden
	}
	seg = seg[3:]
	switch {
	case len(seg) == 0 && r.Method == http.MethodGet:
		return s.getLists(w)
	case len(seg) == 0 && r.Method == http.MethodPost:
		return s.postList(w, r)
	case len(seg) == 2 && seg[0] == "bulk_operations" && r.Method == http.MethodGet:
		return s.getOperation(w, seg[1])
	case len(seg) == 1 && r.Method == http.MethodGet:
		return s.getList(w, seg[0])
	case len(seg) == 1 && r.Method == http.MethodDelete:
		return s.deleteList(w, seg[0])
	case len(seg) == 2 && seg[1] == "items" && r.Method == http.MethodGet:
		return s.getItems(w, r, seg[0])
	case len(seg) == 2 && seg[1] == "items" && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodDelete):
		return s.writeItems(w, r, seg[0])
	case len(seg) == 3 && seg[1] == "items" && r.Method == http.MethodGet:
		return s.getItem(w, seg[0], seg[2])
	}
	fail(w, http.StatusMethodNotAllowed, 10405, "Method not allowed for this route")
	return http.StatusMethodNotAllowed
}

func routeOf(seg []string) string {
	switch {
	case len(seg) >= 5 && seg[3] == "bulk_operations":
		return "bulk_operations"
	case len(seg) >= 5 && seg[4] == "items":
		return "items"
	case len(seg) == 4:
		return "list"
	}
	return "lists"
}

// allow applies the per-token request limit and sets the rate-limit headers
// Cloudflare sends on every response. Called with mu held.
func (s *Server) allow(w http.ResponseWriter) bool {
	now := s.now()
	if s.window.IsZero() || now.Sub(s.window) >= s.cfg.RateWindow {
		s.window, s.used = now, 0
	}
	s.used++
	reset := int((s.cfg.RateWindow - now.Sub(s.window) + time.Second - 1) / time.Second)
	remaining := max(s.cfg.RateLimit-s.used, 0)
	w.Header().Set("Ratelimit", fmt.Sprintf(`"default";r=%d;t=%d`, remaining, reset))
	w.Header().Set("Ratelimit-Policy", fmt.Sprintf(`"default";q=%d;w=%d`, s.cfg.RateLimit, int(s.cfg.RateWindow/time.Second)))
	if s.used > s.cfg.RateLimit {
		w.Header().Set("Retry-After", strconv.Itoa(max(reset, 1)))
		return false
	}
	return true
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (l *list) json() listJSON {
	return listJSON{ID: l.ID, Name: l.Name, Description: l.Description, Kind: l.Kind, NumItems: len(l.items),
		CreatedOn: stamp(l.CreatedOn), ModifiedOn: stamp(l.ModifiedOn)}
}

func (s *Server) getLists(w http.ResponseWriter) int {
	out := make([]listJSON, 0, len(s.lists))
	for _, l := range s.lists {
		out = append(out, l.json())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	ok(w, out, nil)
	return http.StatusOK
}

func (s *Server) getList(w http.ResponseWriter, id string) int {
	l := s.lists[id]
	if l == nil {
		fail(w, http.StatusNotFound, 10006, "list not found")
		return http.StatusNotFound
	}
	ok(w, l.json(), nil)
	return http.StatusOK
}

func (s *Server) deleteList(w http.ResponseWriter, id string) int {
	if s.lists[id] == nil {
		fail(w, http.StatusNotFound, 10006, "list not found")
		return http.StatusNotFound
	}
	delete(s.lists, id)
	ok(w, map[string]string{"id": id}, nil)
	return http.StatusOK
}

func (s *Server) postList(w http.ResponseWriter, r *http.Request) int {
	var body struct {
		Name        string `json:"name"`
		Kind        string `json:"kind"`
		Description string `json:"description"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fail(w, http.StatusBadRequest, 10026, "could not parse the request body: "+err.Error())
		return http.StatusBadRequest
	}
	if msg := validListName(body.Name); msg != "" {
		fail(w, http.StatusBadRequest, 10001, msg)
		return http.StatusBadRequest
	}
	switch body.Kind {
	case "ip", "redirect", "hostname", "asn":
	default:
		fail(w, http.StatusBadRequest, 10001, "kind must be one of ip, redirect, hostname, asn")
		return http.StatusBadRequest
	}
	if s.byName(body.Name) != nil {
		fail(w, http.StatusBadRequest, 10016, "a list with this name already exists")
		return http.StatusBadRequest
	}
	l := s.createList(body.Name, body.Kind, body.Description)
	ok(w, l.json(), nil)
	return http.StatusOK
}

// validListName applies the documented naming rule: lowercase letters,
// digits and underscores, at most 50 characters.
func validListName(n string) string {
	if n == "" || len(n) > 50 {
		return "name must be 1 to 50 characters"
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return "name may only contain lowercase letters, numbers and underscores"
		}
	}
	return ""
}

func (s *Server) getOperation(w http.ResponseWriter, id string) int {
	op := s.ops[id]
	if op == nil {
		fail(w, http.StatusNotFound, 10003, "operation not found")
		return http.StatusNotFound
	}
	res := opJSON{ID: op.ID, Status: op.status, Error: op.errMsg}
	if op.done {
		res.Completed = stamp(op.complete)
	}
	ok(w, res, nil)
	return http.StatusOK
}

func itemOut(it *Item) itemJSON {
	return itemJSON{ID: it.ID, IP: it.IP, Comment: it.Comment, CreatedOn: stamp(it.CreatedOn), ModifiedOn: stamp(it.ModifiedOn)}
}

func (s *Server) getItem(w http.ResponseWriter, listID, itemID string) int {
	l := s.lists[listID]
	if l == nil || l.items[itemID] == nil {
		fail(w, http.StatusNotFound, 10003, "item not found")
		return http.StatusNotFound
	}
	ok(w, itemOut(l.items[itemID]), nil)
	return http.StatusOK
}

// getItems pages through a list by item ID; the cursor is opaque to clients
// (base64 of the last ID returned), as Cloudflare's is.
func (s *Server) getItems(w http.ResponseWriter, r *http.Request, listID string) int {
	l := s.lists[listID]
	if l == nil {
		fail(w, http.StatusNotFound, 10006, "list not found")
		return http.StatusNotFound
	}
	q := r.URL.Query()
	perPage := 25
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.cfg.MaxPerPage {
			fail(w, http.StatusBadRequest, 10001, fmt.Sprintf("per_page must be between 1 and %d", s.cfg.MaxPerPage))
			return http.StatusBadRequest
		}
		perPage = n
	}
	after := ""
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			fail(w, http.StatusBadRequest, 10001, "invalid cursor")
			return http.StatusBadRequest
		}
		after = string(b)
	}
	search := q.Get("search")
	ids := make([]string, 0, len(l.items))
	for id, it := range l.items {
		if id > after && strings.HasPrefix(it.IP, search) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	more := len(ids) > perPage
	if more {
		ids = ids[:perPage]
	}
	out := make([]itemJSON, len(ids))
	for i, id := range ids {
		out[i] = itemOut(l.items[id])
	}
	info := &resultInfo{Cursors: &cursors{}}
	if more {
		info.Cursors.After = base64.RawURLEncoding.EncodeToString([]byte(ids[len(ids)-1]))
	}
	if after != "" && len(ids) > 0 {
		info.Cursors.Before = base64.RawURLEncoding.EncodeToString([]byte(ids[0]))
	}
	ok(w, out, info)
	return http.StatusOK
}
