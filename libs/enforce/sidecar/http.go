package sidecar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"

	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

// The HTTP API is written once, as fasthttp handlers: the sidecar's server
// (fasthttp's, behind libs/enforce/sidecar/internal/httpguard) runs them,
// and so can a Go program that serves with fasthttp (FastHandler).
// /v1/authz is answered without allocating.

// Response headers.
const (
	// HeaderAction carries the action on every lookup answer.
	HeaderAction = "X-Bulwark-Action"
	// HeaderDegraded is set ("not-ready") when the answer came from the fail
	// mode because the table had not caught up.
	HeaderDegraded = "X-Bulwark-Degraded"
)

// maxBatchBody bounds a POST /v1/verdicts body, and so every request body
// the server takes.
const maxBatchBody = 1 << 20

// MaxRequestBodyBytes is the largest request body the HTTP API takes, for
// Go programs that serve FastHandler with fasthttp.
const MaxRequestBodyBytes = maxBatchBody

var (
	headerActionKey    = []byte(HeaderAction)
	headerDegradedKey  = []byte(HeaderDegraded)
	notReadyValue      = []byte("not-ready")
	jsonContentType    = []byte("application/json")
	headerClearanceKey = []byte(HeaderClearance)
	challengePrefix    = []byte(challenge.Prefix)
	clearedBytes       = []byte(clearedValue[0])
	// actionBytes are the X-Bulwark-Action values, indexed by action.
	actionBytes = func() (v [eventpb.Action_BLOCK + 1][]byte) {
		for a := range v {
			v[a] = []byte(verdict.ActionString(eventpb.Action(a)))
		}
		return v
	}()
	metricsFormat = expfmt.NewFormat(expfmt.TypeTextPlain)
)

// FastHandler is the HTTP API as a fasthttp handler: what the sidecar's own
// server runs, for Go programs that serve with fasthttp.
func (s *Sidecar) FastHandler() fasthttp.RequestHandler { return s.serve }

// serve routes a request. /v1/authz takes any method: nginx sends the auth
// subrequest with the client's (a POST to /login is checked as a POST).
func (s *Sidecar) serve(c *fasthttp.RequestCtx) {
	path := c.Path()
	if string(path) == "/v1/authz" {
		s.authz(c)
		return
	}
	if s.ch != nil && bytes.HasPrefix(path, challengePrefix) {
		// The challenge pages are net/http handlers (shared with the gate);
		// they are not on the hot path.
		s.chFast(c)
		return
	}
	var h fasthttp.RequestHandler
	method := http.MethodGet
	switch string(path) {
	case "/v1/verdict":
		h = s.verdict
	case "/v1/verdicts":
		h, method = s.batch, http.MethodPost
	case "/healthz":
		h = healthz
	case "/readyz":
		h = s.readyz
	case "/metrics":
		h = s.serveMetrics
	default:
		writeFastError(c, http.StatusNotFound, "no such endpoint: "+string(c.Method())+" "+string(path))
		return
	}
	if m := string(c.Method()); m != method && (method != http.MethodGet || m != http.MethodHead) {
		writeFastError(c, http.StatusMethodNotAllowed, m+" "+string(path)+": want "+method)
		c.Response.Header.Set("Allow", method)
		return
	}
	h(c)
}

// authz answers nginx's auth_request: 204 allow or monitor, 403 block, 401
// challenge, with X-Bulwark-Action, read from fasthttp's request and
// written without allocating.
func (s *Sidecar) authz(c *fasthttp.RequestCtx) {
	var peer netip.Addr
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		peer = a.AddrPort().Addr()
	}
	h := &c.Request.Header
	var hv, session string
	switch v := h.PeekAll(s.ipHeader); len(v) {
	case 0:
	case 1:
		hv = unsafeString(v[0])
	default:
		// Repeated header lines form one list (RFC 9110 5.3).
		hv = unsafeString(bytes.Join(v, []byte{','}))
	}
	if s.sessHeader != "" {
		session = unsafeString(h.Peek(s.sessHeader))
	}
	ans, err := s.authorize(apiAuthz, peer, hv, session, (*fastCredentials)(h))
	if err != nil {
		writeFastError(c, http.StatusBadRequest, err.Error())
		return
	}
	if ans.degraded {
		c.Response.Header.SetCanonical(headerDegradedKey, notReadyValue)
	}
	c.Response.Header.SetCanonical(headerActionKey, actionBytes[ans.action])
	if ans.cleared {
		c.Response.Header.SetCanonical(headerClearanceKey, clearedBytes)
	}
	c.SetStatusCode(authzStatus(ans.action))
}

// fastCredentials reads the clearance of a fasthttp request.
type fastCredentials fasthttp.RequestHeader

// clearance looks in the Cookie header lines as they came: h.Cookie would
// first copy every cookie of the request apart, for one of them. (Once a
// handler before this one has had fasthttp do that, PeekAll puts the lines
// back together, at the cost of an allocation.)
func (fc *fastCredentials) clearance() (cookie, ua string) {
	h := (*fasthttp.RequestHeader)(fc)
	for _, line := range h.PeekAll(fasthttp.HeaderCookie) {
		if v := challenge.CookieValue(unsafeString(line)); v != "" {
			return v, unsafeString(h.UserAgent())
		}
	}
	return "", ""
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
	if q.Session != "" {
		// The same check as every other entry point of subjects: no
		// verdict can exist for a session id it refuses.
		if err := subject.ValidateSession(q.Session); err != nil {
			return netip.Addr{}, err
		}
	}
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

// verdict answers GET /v1/verdict?ip=IP[&session=ID] with the contract
// verdict JSON; an unknown client gets ALLOW.
func (s *Sidecar) verdict(c *fasthttp.RequestCtx) {
	args := c.QueryArgs()
	q := query{IP: string(args.Peek("ip")), Session: string(args.Peek("session"))}
	ip, err := q.parse()
	if err != nil {
		s.metrics.badRequests.WithLabelValues(apiVerdict, "query").Inc()
		writeFastError(c, http.StatusBadRequest, err.Error())
		return
	}
	res, ok := s.lookup(c, apiVerdict, ip, q.Session)
	if !ok {
		return
	}
	c.Response.Header.SetContentTypeBytes(jsonContentType)
	c.Response.Header.SetCanonical(headerActionKey, actionBytes[res.Action])
	bp := bufPool.Get().(*[]byte)
	buf := append(appendResult((*bp)[:0], res), '\n')
	c.SetBody(buf) // a copy, into the response's own pooled buffer
	*bp = buf
	bufPool.Put(bp)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// lookup consults the table, or applies the fail mode when it is not
// ready: open answers ALLOW, closed writes 503 and returns false.
func (s *Sidecar) lookup(c *fasthttp.RequestCtx, api string, ip netip.Addr, session string) (verdicttable.Result, bool) {
	if !s.serving() {
		s.metrics.unready.WithLabelValues(api).Inc()
		if s.failClosed {
			writeFastError(c, http.StatusServiceUnavailable, "verdict table has not caught up with the verdict topic (BULWARK_SIDECAR_FAIL_MODE=closed)")
			c.Response.Header.SetCanonical(headerDegradedKey, notReadyValue)
			return verdicttable.Result{}, false
		}
		c.Response.Header.SetCanonical(headerDegradedKey, notReadyValue)
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
func (s *Sidecar) batch(c *fasthttp.RequestCtx) {
	body := c.PostBody()
	if len(body) > maxBatchBody {
		// The sidecar's server refuses such a body before reading it; a
		// program serving FastHandler may not.
		s.metrics.badRequests.WithLabelValues(apiBatch, "body").Inc()
		writeFastError(c, http.StatusRequestEntityTooLarge, "body larger than "+strconv.Itoa(maxBatchBody)+" bytes")
		return
	}
	var qs []query
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&qs); err != nil {
		s.metrics.badRequests.WithLabelValues(apiBatch, "body").Inc()
		writeFastError(c, http.StatusBadRequest, "body: want a JSON array of {\"ip\":…,\"session\":…}: "+err.Error())
		return
	}
	if dec.More() {
		s.metrics.badRequests.WithLabelValues(apiBatch, "body").Inc()
		writeFastError(c, http.StatusBadRequest, "body: trailing data after the JSON array")
		return
	}
	if len(qs) > s.cfg.MaxBatch {
		s.metrics.badRequests.WithLabelValues(apiBatch, "too_many").Inc()
		writeFastError(c, http.StatusBadRequest, fmt.Sprintf("%d lookups; at most %d per request (BULWARK_SIDECAR_MAX_BATCH)", len(qs), s.cfg.MaxBatch))
		return
	}
	ips := make([]netip.Addr, len(qs))
	for i, q := range qs {
		var err error
		if ips[i], err = q.parse(); err != nil {
			s.metrics.badRequests.WithLabelValues(apiBatch, "query").Inc()
			writeFastError(c, http.StatusBadRequest, fmt.Sprintf("lookup %d: %v", i, err))
			return
		}
	}
	buf := make([]byte, 0, 64+160*len(qs))
	buf = append(buf, '[')
	for i, q := range qs {
		res, ok := s.lookup(c, apiBatch, ips[i], q.Session)
		if !ok {
			return
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendResult(buf, res)
	}
	buf = append(buf, "]\n"...)
	c.Response.Header.SetContentTypeBytes(jsonContentType)
	c.Response.SetBodyRaw(buf)
}

func healthz(c *fasthttp.RequestCtx) {
	c.Response.Header.SetContentTypeBytes(jsonContentType)
	c.Response.SetBodyString(`{"status":"ok"}` + "\n")
}

// readyz is 200 once the table has caught up with the verdict topic, 503
// before. Kafka being away later does not make the sidecar unready (see
// kafkaProbe); the "kafka" field says so.
func (s *Sidecar) readyz(c *fasthttp.RequestCtx) {
	rd := s.follower.Reader()
	body := struct {
		Ready    bool   `json:"ready"`
		Lag      int64  `json:"lag"`
		Verdicts int    `json:"verdicts"`
		Snapshot bool   `json:"serving_snapshot"`
		Kafka    string `json:"kafka"`
	}{rd.CaughtUp(), rd.Lag(), s.table.Len(), s.fromSnapshot.Load() && !rd.CaughtUp(), s.kafka.status()}
	if !body.Ready {
		c.SetStatusCode(http.StatusServiceUnavailable)
	}
	c.Response.Header.SetContentTypeBytes(jsonContentType)
	_ = json.NewEncoder(c).Encode(body)
}

// serveMetrics writes the registry in Prometheus's text format. promhttp
// is a net/http handler; the encoder it uses is called directly instead,
// so the API has one HTTP stack.
func (s *Sidecar) serveMetrics(c *fasthttp.RequestCtx) {
	mfs, err := s.gatherer.Gather()
	if err != nil && len(mfs) == 0 {
		s.log.Warn("gather metrics", "err", err)
		writeFastError(c, http.StatusInternalServerError, "gather metrics: "+err.Error())
		return
	}
	if err != nil {
		// As promhttp's default: serve what was gathered, log the rest.
		s.log.Warn("gather metrics: some are missing", "err", err)
	}
	c.SetContentType(string(metricsFormat))
	enc := expfmt.NewEncoder(c, metricsFormat)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			s.log.Warn("encode metrics", "err", err)
			return
		}
	}
}

// writeFastError answers status with {"error": msg}.
func writeFastError(c *fasthttp.RequestCtx, status int, msg string) {
	c.Response.Reset()
	c.SetStatusCode(status)
	c.Response.Header.SetContentTypeBytes(jsonContentType)
	c.SetBody(appendErrorJSON(nil, msg))
}

// appendErrorJSON appends {"error": msg} and a newline.
func appendErrorJSON(dst []byte, msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return append(append(dst, b...), '\n')
}
