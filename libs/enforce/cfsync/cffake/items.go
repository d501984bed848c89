package cffake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// writeItems handles POST (append), PUT (replace all) and DELETE (by id) on a
// list's items. Each is validated at once and then queued as an
// asynchronous bulk operation; only one may be pending per account.
func (s *Server) writeItems(w http.ResponseWriter, r *http.Request, listID string) int {
	l := s.lists[listID]
	if l == nil {
		fail(w, http.StatusNotFound, 10006, "list not found")
		return http.StatusNotFound
	}
	if s.pending != nil {
		s.stats.Rejected429++
		fail(w, http.StatusTooManyRequests, 10052, "there is a pending bulk operation on this account; retry when it has completed")
		return http.StatusTooManyRequests
	}
	var apply func()
	switch r.Method {
	case http.MethodDelete:
		var body struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fail(w, http.StatusBadRequest, 10026, "could not parse the request body: "+err.Error())
			return http.StatusBadRequest
		}
		if len(body.Items) == 0 {
			fail(w, http.StatusBadRequest, 10001, "items must not be empty")
			return http.StatusBadRequest
		}
		ids := make([]string, len(body.Items))
		for i, it := range body.Items {
			if it.ID == "" {
				fail(w, http.StatusBadRequest, 10001, fmt.Sprintf("items[%d]: id is required", i))
				return http.StatusBadRequest
			}
			ids[i] = it.ID
		}
		apply = func() {
			for _, id := range ids {
				if l.items[id] != nil {
					delete(l.items, id)
					s.stats.ItemsRemoved++
				}
			}
			l.ModifiedOn = s.now()
		}
	default:
		var body []struct {
			IP      *string `json:"ip"`
			Comment string  `json:"comment"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fail(w, http.StatusBadRequest, 10026, "could not parse the request body: "+err.Error())
			return http.StatusBadRequest
		}
		type newItem struct{ ip, comment string }
		items := make([]newItem, len(body))
		for i, it := range body {
			if it.IP == nil {
				fail(w, http.StatusBadRequest, 10001, fmt.Sprintf("items[%d]: ip is required in a list of kind ip", i))
				return http.StatusBadRequest
			}
			ip, err := normalizeIP(*it.IP)
			if err != nil {
				fail(w, http.StatusBadRequest, 10001, fmt.Sprintf("items[%d]: %v", i, err))
				return http.StatusBadRequest
			}
			items[i] = newItem{ip, it.Comment}
		}
		replace := r.Method == http.MethodPut
		apply = func() {
			now := s.now()
			if replace {
				s.stats.ItemsRemoved += len(l.items)
				l.items = map[string]*Item{}
			}
			byIP := make(map[string]*Item, len(l.items))
			for _, it := range l.items {
				byIP[it.IP] = it
			}
			for _, n := range items {
				// Adding an IP already in the list replaces its comment.
				if old := byIP[n.ip]; old != nil {
					old.Comment, old.ModifiedOn = n.comment, now
					s.stats.ItemsUpdated++
					continue
				}
				it := &Item{ID: newID(), IP: n.ip, Comment: n.comment, CreatedOn: now, ModifiedOn: now}
				l.items[it.ID], byIP[it.IP] = it, it
				s.stats.ItemsAdded++
			}
			l.ModifiedOn = now
		}
	}
	op := &operation{ID: newID(), created: s.now(), status: "pending", apply: apply}
	if s.failOps > 0 {
		s.failOps--
		op.fail = true
	}
	s.ops[op.ID] = op
	s.pending = op
	s.stats.Operations++
	ok(w, map[string]string{"operation_id": op.ID}, nil)
	return http.StatusOK
}

// normalizeIP validates an IP list item the way Cloudflare does and returns
// its stored spelling: IPv4 addresses and CIDRs from /8 to /32, IPv6
// addresses and CIDRs from /4 to /64 (an IPv6 address is stored as its /64).
func normalizeIP(s string) (string, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" || a.Is4In6() {
			return "", fmt.Errorf("%q is not a valid IP address", s)
		}
		if a.Is4() {
			return a.String(), nil
		}
		p, _ := a.Prefix(64)
		return p.String(), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Is4In6() {
		return "", fmt.Errorf("%q is not a valid CIDR", s)
	}
	bits := p.Bits()
	if p.Addr().Is4() {
		if bits < 8 {
			return "", fmt.Errorf("%q: IPv4 CIDR prefix must be between /8 and /32", s)
		}
		if bits == 32 {
			return p.Addr().String(), nil
		}
		return p.Masked().String(), nil
	}
	if bits < 4 || bits > 64 {
		return "", fmt.Errorf("%q: IPv6 CIDR prefix must be between /4 and /64", s)
	}
	return p.Masked().String(), nil
}
