package sidecar

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bulwarkhq/bulwark/libs/challenge"
	"github.com/bulwarkhq/bulwark/libs/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdict"
	"github.com/bulwarkhq/bulwark/libs/verdicttable"
)

// Response headers.
const (
	// HeaderAction carries the action on every lookup answer.
	HeaderAction = "X-Bulwark-Action"
	// HeaderDegraded is set ("not-ready") when the answer came from the fail
	// mode because the table had not caught up.
	HeaderDegraded = "X-Bulwark-Degraded"
)

// actionValues are shared, never modified header values, so the hot path
// sets a header without allocating.
var actionValues = func() (v [eventpb.Action_BLOCK + 1][]string) {
	for a := range v {
		v[a] = []string{verdict.ActionString(eventpb.Action(a))}
	}
	return v
}()

var notReady = []string{"not-ready"}

// maxBatchBody bounds a POST /v1/verdicts body.
const maxBatchBody = 1 << 20

// Handler is the HTTP API.
func (s *Sidecar) Handler() http.Handler {
	mux := http.NewServeMux()
	// Any method: nginx sends the auth subrequest with the client's method
	// (a POST to /login is checked as a POST).
	mux.HandleFunc("/v1/authz", s.authz)
	mux.HandleFunc("GET /v1/verdict", s.verdict)
	mux.HandleFunc("POST /v1/verdicts", s.batch)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc(challenge.Prefix, s.serveChallenge)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	// The hot path skips the mux's pattern matching and path cleaning.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/authz" {
			s.authz(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// authz answers nginx's auth_request: 204 allow or monitor, 403 block, 401
// challenge, with X-Bulwark-Action. The sidecar's own server answers it in
// fastAuthz; this is the same for a Go program that mounts Handler.
func (s *Sidecar) authz(w http.ResponseWriter, r *http.Request) {
	peer, _ := netip.ParseAddrPort(r.RemoteAddr) // a unix socket peer stays invalid
	var hv, session string
	switch v := r.Header[s.ipHeader]; len(v) {
	case 0:
	case 1:
		hv = v[0]
	default:
		// Repeated header lines form one list (RFC 9110 5.3).
		hv = strings.Join(v, ",")
	}
	if s.sessHeader != "" {
		if v := r.Header[s.sessHeader]; len(v) > 0 {
			session = v[0]
		}
	}
	var cookie, ua string
	if s.ch != nil {
		if cookie = requestCookie(r, challenge.CookieName); cookie != "" {
			ua = r.UserAgent()
		}
	}
	ans, err := s.authorize(apiAuthz, peer.Addr(), hv, session, cookie, ua)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	h := w.Header()
	if ans.degraded {
		h[HeaderDegraded] = notReady
	}
	h[HeaderAction] = actionValues[ans.action]
	if ans.cleared {
		h[HeaderClearance] = clearedValue
	}
	w.WriteHeader(authzStatus(ans.action))
}

func authzStatus(a eventpb.Action) int {
	switch a {
	case eventpb.Action_BLOCK:
		return http.StatusForbidden
	case eventpb.Action_CHALLENGE:
		return http.StatusUnauthorized
	}
	return http.StatusNoContent
}

// query is one lookup: an IP, a session, or both.
type query struct {
	IP      string `json:"ip"`
	Session string `json:"session"`
}

func (q query) parse() (netip.Addr, error) {
	if q.IP == "" {
		if q.Session == "" {
			return netip.Addr{}, errors.New("want ip, session or both")
		}
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(q.IP)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("ip %q is not an IP address", q.IP)
	}
	return a.Unmap(), nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// verdict answers GET /v1/verdict?ip=IP[&session=ID] with the contract
// verdict JSON; an unknown client gets ALLOW.
func (s *Sidecar) verdict(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	q := query{IP: qv.Get("ip"), Session: qv.Get("session")}
	ip, err := q.parse()
	if err != nil {
		s.metrics.badRequests.WithLabelValues(apiVerdict, "query").Inc()
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, ok := s.lookup(w, apiVerdict, ip, q.Session)
	if !ok {
		return
	}
	bp := bufPool.Get().(*[]byte)
	buf := appendResult((*bp)[:0], res)
	buf = append(buf, '\n')
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h[HeaderAction] = actionValues[res.Action]
	_, _ = w.Write(buf)
	*bp = buf
	bufPool.Put(bp)
}

var jsonContentType = []string{"application/json"}

// lookup consults the table, or applies the fail mode when it is not
// ready: open answers ALLOW, closed writes 503 and returns false.
func (s *Sidecar) lookup(w http.ResponseWriter, api string, ip netip.Addr, session string) (verdicttable.Result, bool) {
	if !s.serving() {
		s.metrics.unready.WithLabelValues(api).Inc()
		w.Header()[HeaderDegraded] = notReady
		if s.failClosed {
			writeError(w, http.StatusServiceUnavailable, "verdict table has not caught up with the verdict topic (BULWARK_SIDECAR_FAIL_MODE=closed)")
			return verdicttable.Result{}, false
		}
		return verdicttable.Result{Action: eventpb.Action_ALLOW, Addr: ip, Session: session}, true
	}
	res := s.table.Lookup(ip, session, time.Now())
	s.metrics.lookups[api][res.Action].Inc()
	return res, true
}

func appendResult(dst []byte, res verdicttable.Result) []byte {
	return verdict.AppendJSON(dst, res.Subject(), res.Verdict())
}

// batch answers POST /v1/verdicts: a JSON array of {"ip","session"} in,
// a JSON array of verdicts out, in the same order.
func (s *Sidecar) batch(w http.ResponseWriter, r *http.Request) {
	var qs []query
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBatchBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&qs); err != nil {
		s.metrics.badRequests.WithLabelValues(apiBatch, "body").Inc()
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body larger than "+strconv.Itoa(maxBatchBody)+" bytes")
			return
		}
		writeError(w, http.StatusBadRequest, "body: want a JSON array of {\"ip\":…,\"session\":…}: "+err.Error())
		return
	}
	if dec.More() {
		s.metrics.badRequests.WithLabelValues(apiBatch, "body").Inc()
		writeError(w, http.StatusBadRequest, "body: trailing data after the JSON array")
		return
	}
	if len(qs) > s.cfg.MaxBatch {
		s.metrics.badRequests.WithLabelValues(apiBatch, "too_many").Inc()
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%d lookups; at most %d per request (BULWARK_SIDECAR_MAX_BATCH)", len(qs), s.cfg.MaxBatch))
		return
	}
	ips := make([]netip.Addr, len(qs))
	for i, q := range qs {
		var err error
		if ips[i], err = q.parse(); err != nil {
			s.metrics.badRequests.WithLabelValues(apiBatch, "query").Inc()
			writeError(w, http.StatusBadRequest, fmt.Sprintf("lookup %d: %v", i, err))
			return
		}
	}
	buf := make([]byte, 0, 64+160*len(qs))
	buf = append(buf, '[')
	for i, q := range qs {
		res, ok := s.lookup(w, apiBatch, ips[i], q.Session)
		if !ok {
			return
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendResult(buf, res)
	}
	buf = append(buf, "]\n"...)
	w.Header()["Content-Type"] = jsonContentType
	_, _ = w.Write(buf)
}

func (s *Sidecar) readyz(w http.ResponseWriter, _ *http.Request) {
	rd := s.follower.Reader()
	w.Header()["Content-Type"] = jsonContentType
	body := struct {
		Ready    bool  `json:"ready"`
		Lag      int64 `json:"lag"`
		Verdicts int   `json:"verdicts"`
		Snapshot bool  `json:"serving_snapshot"`
	}{rd.CaughtUp(), rd.Lag(), s.table.Len(), s.fromSnapshot.Load() && !rd.CaughtUp()}
	if !body.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}

// writeError writes {"error": msg} with the status.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(appendErrorJSON(nil, msg))
}

// appendErrorJSON appends {"error": msg} and a newline.
func appendErrorJSON(dst []byte, msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return append(append(dst, b...), '\n')
}
