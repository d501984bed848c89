package sidecar

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// answer is what an authorisation check (nginx auth_request over HTTP,
// Envoy ext_authz over gRPC) decided for one request.
type answer struct {
	action eventpb.Action
	// degraded: the table has not caught up, so the fail mode answered
	// (ALLOW when open, BLOCK when closed).
	degraded bool
	// cleared: a CHALLENGE let through by a valid clearance cookie.
	cleared bool
}

// credentials hands authorize a request's clearance cookie and user agent.
// They are read only for a CHALLENGE verdict: most requests are ALLOWed,
// and finding a cookie means scanning the Cookie header.
type credentials interface {
	// clearance is the clearance cookie's value ("" for none) and, with a
	// cookie, the user agent.
	clearance() (cookie, ua string)
}

// authorize decides one request: it finds the client (the socket peer, or
// the client address header value hv when the peer is a trusted proxy) and
// consults the table, or the fail mode while the table is not ready. A
// CHALLENGE is allowed when creds carry a clearance of the level the
// verdict asks for, issued to this client's network and user agent; a
// BLOCK never is. An error means the request names no usable client; it is
// counted as a bad request of api.
func (s *Sidecar) authorize(api string, peer netip.Addr, hv, session string, creds credentials) (answer, error) {
	ip, err := clientAddr(s.resolver, peer, hv)
	switch {
	case err != nil:
		err = fmt.Errorf("%s %q: %w", s.cfg.ClientIPHeader, hv, err)
	case !ip.IsValid():
		err = fmt.Errorf("no client address: the peer has none and %s is missing", s.cfg.ClientIPHeader)
	}
	if err != nil {
		s.metrics.badRequests.WithLabelValues(api, "client_ip").Inc()
		return answer{}, err
	}
	if !s.serving() {
		s.metrics.unready.WithLabelValues(api).Inc()
		if s.failClosed {
			return answer{action: eventpb.Action_BLOCK, degraded: true}, nil
		}
		return answer{action: eventpb.Action_ALLOW, degraded: true}, nil
	}
	now := time.Now()
	res := s.table.Lookup(ip, session, now)
	s.metrics.lookups[api][res.Action].Inc()
	if res.Action == eventpb.Action_CHALLENGE && s.ch.cleared(res, ip, creds, now) {
		return answer{action: eventpb.Action_ALLOW, cleared: true}, nil
	}
	return answer{action: res.Action}, nil
}
