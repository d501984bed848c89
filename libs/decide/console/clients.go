package console

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

var netipZero netip.Addr

// clientData is everything the client page shows (and its JSON answer).
type clientData struct {
	Subject string
	Kind    string
	// Effective is what a sidecar answers for this client now: the
	// strongest active verdict among its address, networks and session.
	Effective verdictView
	// Matched is the subject whose verdict is effective ("" when none).
	Matched string
	// Verdicts are the stored verdicts on this subject and, for an
	// address, its aggregation network (expired ones marked).
	Verdicts []storedVerdict
	// Addresses are, for an fp: subject, the addresses its verdict lists
	// (the only ones it is enforced on).
	Addresses []string
	History   []change
	Sidecars  []sidecarAnswer
	Requests  []request
	Scores    []score
	Labels    []label
	Audit     []*eventpb.AuditEvent
	// Source says where requests, scores and labels come from.
	Source   string
	Warnings []string
	Ready    bool
	// TTLs offered in the action form.
	MaxTTL string
}

type storedVerdict struct {
	verdictView
	Expired bool
}

type change struct {
	Subject string
	At      time.Time
	verdictView
}

type sidecarAnswer struct {
	URL    string
	Action string
	Answer string
	Error  string
}

func (s *Server) client(w http.ResponseWriter, r *http.Request) {
	sub, err := parseQuery(r.PathValue("subject"))
	if err != nil {
		if wantsJSON(r) {
			jsonError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.render(w, r, http.StatusBadRequest, "overview.html", page{Title: "Overview", Error: err.Error(), Data: s.over.get(s.now())})
		return
	}
	start := time.Now()
	d := s.clientData(r.Context(), sub)
	s.metrics.lookups.Observe(time.Since(start).Seconds())
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, d)
		return
	}
	s.render(w, r, http.StatusOK, "client.html", page{Title: d.Subject, Flash: r.URL.Query().Get("done"), Data: d})
}

func (s *Server) clientData(ctx context.Context, sub subject.Subject) clientData {
	now := s.now()
	key := sub.String()
	d := clientData{Subject: key, Kind: sub.Kind.String(), MaxTTL: s.limits.MaxTTL.String()}
	select {
	case <-s.store.reader.Ready():
		d.Ready = true
	default:
		d.Warnings = append(d.Warnings, "the console is still reading the verdict topic: verdicts may be missing")
	}

	related := []string{key}
	switch sub.Kind {
	case subject.KindIP:
		res := s.store.table.Lookup(sub.Addr, "", now)
		related = append(related, subject.Net(subject.NetOf(sub.Addr)))
		// The fingerprints' verdicts that list the address act on it too.
		related = append(related, s.store.table.FingerprintsOf(sub.Addr)...)
		d.Effective = verdictView{Subject: key, Action: "ALLOW"}
		if res.Found() {
			d.Matched = res.Subject()
			d.Effective = viewOf(d.Matched, res.Verdict())
		}
	case subject.KindSession:
		res := s.store.table.Lookup(netipZero, sub.Session, now)
		d.Effective = verdictView{Subject: key, Action: "ALLOW"}
		if res.Found() {
			d.Matched = res.Subject()
			d.Effective = viewOf(d.Matched, res.Verdict())
		}
	case subject.KindNet, subject.KindFP:
		d.Effective = verdictView{Subject: key, Action: "ALLOW"}
		if v, ok := s.store.table.Get(key); ok && verdict.Active(v, now) {
			d.Matched = key
			d.Effective = viewOf(key, v)
			d.Addresses = v.GetAddresses()
		}
	}
	for _, k := range related {
		if v, ok := s.store.table.Get(k); ok {
			d.Verdicts = append(d.Verdicts, storedVerdict{viewOf(k, v), !verdict.Active(v, now)})
		}
		for _, c := range s.store.history.get(k) {
			d.History = append(d.History, change{Subject: k, At: c.At, verdictView: viewOf(k, c.V)})
		}
	}
	d.Audit = s.store.audits.get(key)

	var wg sync.WaitGroup
	if sub.Kind == subject.KindIP && len(s.cfg.Sidecars) > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); d.Sidecars = s.askSidecars(ctx, sub) }()
	}
	// stored: verdict changes from before the console's start (ClickHouse).
	var stored []change
	if s.ch != nil {
		d.Source = "ClickHouse"
		var mu sync.Mutex
		warn := func(err error) {
			if err != nil {
				mu.Lock()
				d.Warnings = append(d.Warnings, err.Error())
				mu.Unlock()
			}
		}
		wg.Add(4)
		go func() {
			defer wg.Done()
			var err error
			stored, err = s.ch.verdictHistory(ctx, related, s.started, historyShown)
			warn(err)
		}()
		go func() {
			defer wg.Done()
			var err error
			d.Requests, err = s.ch.requests(ctx, sub, s.cfg.RecentRequests)
			warn(err)
		}()
		go func() { defer wg.Done(); var err error; d.Scores, err = s.ch.scores(ctx, sub, 20); warn(err) }()
		go func() { defer wg.Done(); var err error; d.Labels, err = s.ch.labels(ctx, sub, 20); warn(err) }()
	} else {
		d.Source = "the requests, scores and feedback topics (the last hour, kept in memory)"
		for _, ev := range s.store.requests.get(key) {
			d.Requests = append(d.Requests, request{Time: time.Unix(0, ev.GetTimeUnixNano()), ClientIP: ev.GetClientIp(),
				Method: ev.GetMethod(), Host: ev.GetHost(), Path: ev.GetPath(), Status: uint16(ev.GetStatus()),
				UserAgent: ev.GetUserAgent(), Session: ev.GetSessionId(), Country: ev.GetGeoCountry(), ASN: ev.GetAsn()})
		}
		for _, sc := range s.store.scores.get(key) {
			v := score{Time: time.Unix(0, sc.GetTimeUnixNano()), Score: sc.GetScore(), Reasons: sc.GetReasons()}
			for _, name := range slices.Sorted(maps.Keys(sc.GetFeatures())) {
				v.Features = append(v.Features, feature{name, sc.GetFeatures()[name]})
			}
			d.Scores = append(d.Scores, v)
		}
		for _, f := range s.store.feedback.get(key) {
			d.Labels = append(d.Labels, label{Time: time.Unix(0, f.GetTimeUnixNano()), Kind: f.GetKind().String(),
				Rule: f.GetRule(), Reason: f.GetReason(), Source: f.GetSource()})
		}
	}
	wg.Wait()
	if s.ch != nil {
		d.History = mergeHistory(d.History, stored)
	}
	return d
}

// askSidecars asks every configured sidecar what it answers for the
// address, in parallel, within a second.
func (s *Server) askSidecars(ctx context.Context, sub subject.Subject) []sidecarAnswer {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	out := make([]sidecarAnswer, len(s.cfg.Sidecars))
	var wg sync.WaitGroup
	for i, base := range s.cfg.Sidecars {
		out[i].URL = base
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := base + "/v1/verdict?ip=" + url.QueryEscape(sub.Addr.String())
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				out[i].Error = err.Error()
				return
			}
			resp, err := s.httpc.Do(req)
			if err != nil {
				out[i].Error = err.Error()
				return
			}
			defer resp.Body.Close()
			var v struct {
				Action  string   `json:"action"`
				Subject string   `json:"subject"`
				Reasons []string `json:"reasons"`
			}
			if resp.StatusCode != http.StatusOK {
				out[i].Error = resp.Status
				return
			}
			if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 64<<10)).Decode(&v); err != nil {
				out[i].Error = fmt.Sprintf("decode answer: %v", err)
				return
			}
			out[i].Action, out[i].Answer = v.Action, v.Subject
		}()
	}
	wg.Wait()
	return out
}
