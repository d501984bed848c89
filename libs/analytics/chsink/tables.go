package chsink

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// errEmpty is a record without a value on a topic where that means nothing.
var errEmpty = errors.New("record has no value")

// table is how one topic becomes rows of one ClickHouse table.
type table struct {
	name  string
	topic string
	// cumulative tables feed rollups: their blocks are re-sent whole (see doc.go).
	cumulative bool
	columns    []string
	decode     func(r *kgo.Record, vs *verdictState) (any, error)
	write      func(b driver.Batch, rows []sendRow) error
}

// sendRow is one decoded record with the block it belongs to.
type sendRow struct {
	v          any
	partition  int32
	offset     int64
	start, end uint64 // the block's first and last offset, as sent
}

func (t *table) insertSQL(db string) string {
	return "INSERT INTO " + db + "." + t.name + " (" + strings.Join(t.columns, ", ") + ")"
}

func nanoTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

type requestRow struct {
	ev          *eventpb.RequestEvent
	action      string
	bot, botCat string
	disallowed  bool
}

var requestsTable = table{
	name:       "requests",
	cumulative: true,
	columns: []string{"time", "time_unix_nano", "client_ip", "method", "host", "path", "query", "protocol",
		"status", "response_bytes", "request_time", "user_agent", "referer", "accept_language", "session_id",
		"tls_version", "ja3", "ja4", "country", "asn", "as_org", "cdn_bot_score", "cdn_verified_bot", "cdn_request_id",
		"cdn_security_action", "source", "source_offset", "format", "action",
		"kafka_partition", "kafka_offset", "batch_start", "batch_end", "bot", "bot_category", "robots_disallowed",
		"malformed", "sec_fetch_mode", "sec_fetch_dest"},
	decode: func(r *kgo.Record, vs *verdictState) (any, error) {
		if len(r.Value) == 0 {
			return nil, errEmpty
		}
		ev := &eventpb.RequestEvent{}
		if err := proto.Unmarshal(r.Value, ev); err != nil {
			return nil, err
		}
		bot, cat, dis := vs.bots.classify(ev)
		return requestRow{ev: ev, action: vs.actionFor(ev), bot: bot, botCat: cat, disallowed: dis}, nil
	},
	write: writeRequests,
}

func writeRequests(b driver.Batch, rows []sendRow) error {
	n := len(rows)
	var (
		tm        = make([]time.Time, n)
		tns       = make([]int64, n)
		ip        = make([]string, n)
		method    = make([]string, n)
		host      = make([]string, n)
		path      = make([]string, n)
		query     = make([]string, n)
		protocol  = make([]string, n)
		status    = make([]uint16, n)
		bytes     = make([]uint64, n)
		rtime     = make([]*float64, n)
		ua        = make([]string, n)
		referer   = make([]string, n)
		lang      = make([]string, n)
		session   = make([]string, n)
		tlsv      = make([]string, n)
		ja3       = make([]string, n)
		ja4       = make([]string, n)
		country   = make([]string, n)
		asn       = make([]uint32, n)
		asOrg     = make([]string, n)
		botScore  = make([]*uint8, n)
		verified  = make([]uint8, n)
		reqID     = make([]string, n)
		secAction = make([]string, n)
		source    = make([]string, n)
		srcOff    = make([]int64, n)
		format    = make([]string, n)
		action    = make([]string, n)
		kpart     = make([]int32, n)
		koff      = make([]uint64, n)
		bstart    = make([]uint64, n)
		bend      = make([]uint64, n)
		bot       = make([]string, n)
		botCat    = make([]string, n)
		robotsDis = make([]uint8, n)
		malformed = make([]string, n)
		fetchMode = make([]string, n)
		fetchDest = make([]string, n)
	)
	for i, sr := range rows {
		rr := sr.v.(requestRow)
		e := rr.ev
		tm[i], tns[i] = nanoTime(e.GetTimeUnixNano()), e.GetTimeUnixNano()
		ip[i], method[i], host[i], path[i], query[i], protocol[i] = e.GetClientIp(), e.GetMethod(), e.GetHost(), e.GetPath(), e.GetQuery(), e.GetProtocol()
		status[i], bytes[i] = uint16(min(e.GetStatus(), 65535)), e.GetResponseBytes()
		if e.RequestTimeSeconds != nil {
			v := e.GetRequestTimeSeconds()
			rtime[i] = &v
		}
		ua[i], referer[i], lang[i], session[i] = e.GetUserAgent(), e.GetReferer(), e.GetAcceptLanguage(), e.GetSessionId()
		tlsv[i], ja3[i], ja4[i] = e.GetTlsVersion(), e.GetJa3(), e.GetJa4()
		// The shipper's enrichment (the CDN's values when it had them); events
		// shipped before it have only the CDN's fields.
		country[i], asn[i], asOrg[i] = e.GetGeoCountry(), e.GetAsn(), e.GetAsOrg()
		if country[i] == "" {
			country[i] = e.GetCdnCountry()
		}
		if asn[i] == 0 {
			asn[i] = e.GetCdnAsn()
		}
		if e.CdnBotScore != nil {
			v := uint8(min(e.GetCdnBotScore(), 255))
			botScore[i] = &v
		}
		if e.GetCdnVerifiedBot() {
			verified[i] = 1
		}
		reqID[i], secAction[i] = e.GetCdnRequestId(), e.GetCdnSecurityAction()
		source[i], srcOff[i], format[i] = e.GetSource(), e.GetSourceOffset(), e.GetFormat()
		action[i] = rr.action
		kpart[i], koff[i], bstart[i], bend[i] = sr.partition, uint64(sr.offset), sr.start, sr.end
		bot[i], botCat[i] = rr.bot, rr.botCat
		if rr.disallowed {
			robotsDis[i] = 1
		}
		malformed[i], fetchMode[i], fetchDest[i] = e.GetMalformed(), e.GetSecFetchMode(), e.GetSecFetchDest()
	}
	return appendColumns(b, tm, tns, ip, method, host, path, query, protocol, status, bytes, rtime, ua, referer,
		lang, session, tlsv, ja3, ja4, country, asn, asOrg, botScore, verified, reqID, secAction, source, srcOff, format,
		action, kpart, koff, bstart, bend, bot, botCat, robotsDis, malformed, fetchMode, fetchDest)
}

var scoresTable = table{
	name: "scores",
	columns: []string{"time", "time_unix_nano", "window_end", "subject", "subject_kind", "score", "reasons",
		"feature_names", "feature_values", "scorer", "model_score", "model", "client_ip", "method", "host", "path", "status", "user_agent",
		"kafka_partition", "kafka_offset"},
	decode: func(r *kgo.Record, _ *verdictState) (any, error) {
		if len(r.Value) == 0 {
			return nil, errEmpty
		}
		s := &eventpb.Score{}
		if err := proto.Unmarshal(r.Value, s); err != nil {
			return nil, err
		}
		return s, nil
	},
	write: writeScores,
}

func subjectKind(s string) string {
	k, _, ok := strings.Cut(s, ":")
	if !ok {
		return ""
	}
	return k
}

func writeScores(b driver.Batch, rows []sendRow) error {
	n := len(rows)
	var (
		tm      = make([]time.Time, n)
		tns     = make([]int64, n)
		wend    = make([]time.Time, n)
		subj    = make([]string, n)
		kind    = make([]string, n)
		score   = make([]float64, n)
		reasons = make([][]string, n)
		fnames  = make([][]string, n)
		fvals   = make([][]float64, n)
		scorer  = make([]string, n)
		mscore  = make([]*float64, n)
		mname   = make([]string, n)
		ip      = make([]string, n)
		method  = make([]string, n)
		host    = make([]string, n)
		path    = make([]string, n)
		status  = make([]uint16, n)
		ua      = make([]string, n)
		kpart   = make([]int32, n)
		koff    = make([]uint64, n)
	)
	for i, sr := range rows {
		s := sr.v.(*eventpb.Score)
		tm[i], tns[i], wend[i] = nanoTime(s.GetTimeUnixNano()), s.GetTimeUnixNano(), nanoTime(s.GetWindowEndUnixNano())
		subj[i], kind[i], score[i], scorer[i] = s.GetSubject(), subjectKind(s.GetSubject()), s.GetScore(), s.GetScorer()
		reasons[i] = nonNil(s.GetReasons())
		fnames[i], fvals[i] = sortedFeatures(s.GetFeatures())
		mscore[i], mname[i] = s.ModelScore, s.GetModel()
		if t := s.GetTrigger(); t != nil {
			ip[i], method[i], host[i], path[i], status[i], ua[i] = t.GetClientIp(), t.GetMethod(), t.GetHost(), t.GetPath(), uint16(min(t.GetStatus(), 65535)), t.GetUserAgent()
		}
		kpart[i], koff[i] = sr.partition, uint64(sr.offset)
	}
	return appendColumns(b, tm, tns, wend, subj, kind, score, reasons, fnames, fvals, scorer, mscore, mname, ip, method, host, path, status, ua, kpart, koff)
}

// verdictRow is a verdict, or a lift (a tombstone) of the subject in key.
type verdictRow struct {
	v         *eventpb.Verdict
	liftedKey string
	at        time.Time
}

// Lifted verdicts are recorded with this action.
const actionLifted = "LIFTED"

var verdictsTable = table{
	name: "verdicts",
	columns: []string{"at", "at_unix_nano", "subject", "subject_kind", "action", "would_be", "score", "reasons",
		"addresses", "rule", "origin", "expires_at", "lifted", "kafka_partition", "kafka_offset"},
	decode: func(r *kgo.Record, vs *verdictState) (any, error) {
		if r.Value == nil {
			if len(r.Key) == 0 {
				return nil, errEmpty
			}
			vs.lift(string(r.Key))
			return verdictRow{liftedKey: string(r.Key), at: r.Timestamp.UTC()}, nil
		}
		v := &eventpb.Verdict{}
		if err := proto.Unmarshal(r.Value, v); err != nil {
			return nil, err
		}
		vs.set(v)
		return verdictRow{v: v}, nil
	},
	write: writeVerdicts,
}

func actionName(a eventpb.Action) string {
	if a == eventpb.Action_ACTION_UNSPECIFIED {
		return ""
	}
	return a.String()
}

func writeVerdicts(b driver.Batch, rows []sendRow) error {
	n := len(rows)
	var (
		at      = make([]time.Time, n)
		atns    = make([]int64, n)
		subj    = make([]string, n)
		kind    = make([]string, n)
		action  = make([]string, n)
		wouldBe = make([]string, n)
		score   = make([]float64, n)
		reasons = make([][]string, n)
		addrs   = make([][]string, n) // an fp: verdict's (migration 009)
		rule    = make([]string, n)
		origin  = make([]string, n)
		expires = make([]time.Time, n)
		lifted  = make([]uint8, n)
		kpart   = make([]int32, n)
		koff    = make([]uint64, n)
	)
	for i, sr := range rows {
		vr := sr.v.(verdictRow)
		if v := vr.v; v != nil {
			at[i], atns[i] = nanoTime(v.GetAtUnixNano()), v.GetAtUnixNano()
			subj[i], action[i], wouldBe[i], score[i] = v.GetSubject(), actionName(v.GetAction()), actionName(v.GetWouldBe()), v.GetScore()
			reasons[i], addrs[i], rule[i] = nonNil(v.GetReasons()), nonNil(v.GetAddresses()), v.GetRule()
			if v.GetOrigin() != eventpb.Origin_ORIGIN_UNSPECIFIED {
				origin[i] = v.GetOrigin().String()
			}
			expires[i] = time.Unix(0, 0).UTC()
			if v.GetExpiresAtUnixNano() > 0 {
				expires[i] = nanoTime(v.GetExpiresAtUnixNano())
			}
		} else {
			at[i], atns[i] = vr.at, vr.at.UnixNano()
			subj[i], action[i], lifted[i], reasons[i], addrs[i] = vr.liftedKey, actionLifted, 1, []string{}, []string{}
			expires[i] = vr.at
		}
		kind[i] = subjectKind(subj[i])
		kpart[i], koff[i] = sr.partition, uint64(sr.offset)
	}
	return appendColumns(b, at, atns, subj, kind, action, wouldBe, score, reasons, addrs, rule, origin, expires, lifted, kpart, koff)
}

var deadLettersTable = table{
	name:    "dead_letters",
	columns: []string{"time", "reason", "detail", "source", "source_offset", "format", "raw", "kafka_partition", "kafka_offset"},
	decode: func(r *kgo.Record, _ *verdictState) (any, error) {
		if len(r.Value) == 0 {
			return nil, errEmpty
		}
		d := &eventpb.DeadLetter{}
		if err := proto.Unmarshal(r.Value, d); err != nil {
			return nil, err
		}
		if d.GetReceivedUnixNano() == 0 {
			d.ReceivedUnixNano = r.Timestamp.UnixNano()
		}
		return d, nil
	},
	write: func(b driver.Batch, rows []sendRow) error {
		n := len(rows)
		tm, reason, detail, source := make([]time.Time, n), make([]string, n), make([]string, n), make([]string, n)
		srcOff, format, raw := make([]int64, n), make([]string, n), make([]string, n)
		kpart, koff := make([]int32, n), make([]uint64, n)
		for i, sr := range rows {
			d := sr.v.(*eventpb.DeadLetter)
			tm[i], reason[i], detail[i], source[i] = nanoTime(d.GetReceivedUnixNano()), d.GetReason(), d.GetDetail(), d.GetSource()
			srcOff[i], format[i], raw[i] = d.GetSourceOffset(), d.GetFormat(), string(d.GetRaw())
			kpart[i], koff[i] = sr.partition, uint64(sr.offset)
		}
		return appendColumns(b, tm, reason, detail, source, srcOff, format, raw, kpart, koff)
	},
}

var feedbackTable = table{
	name: "feedback",
	columns: []string{"time", "subject", "kind", "challenge", "level", "solve_ms", "checks_failed", "rule", "reason",
		"source", "client_ip", "nonce", "kafka_partition", "kafka_offset"},
	decode: func(r *kgo.Record, _ *verdictState) (any, error) {
		if len(r.Value) == 0 {
			return nil, errEmpty
		}
		f := &eventpb.Feedback{}
		if err := proto.Unmarshal(r.Value, f); err != nil {
			return nil, err
		}
		if f.GetTimeUnixNano() == 0 {
			f.TimeUnixNano = r.Timestamp.UnixNano()
		}
		if f.GetSubject() == "" {
			f.Subject = string(r.Key)
		}
		return f, nil
	},
	write: func(b driver.Batch, rows []sendRow) error {
		n := len(rows)
		tm, sub, kind, ch := make([]time.Time, n), make([]string, n), make([]string, n), make([]string, n)
		level, solve, failed := make([]uint8, n), make([]int64, n), make([][]string, n)
		rule, reason, source, ip, nonce := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		kpart, koff := make([]int32, n), make([]uint64, n)
		for i, sr := range rows {
			f := sr.v.(*eventpb.Feedback)
			tm[i], sub[i], kind[i], ch[i] = nanoTime(f.GetTimeUnixNano()), f.GetSubject(), f.GetKind().String(), f.GetChallenge()
			level[i], solve[i] = uint8(min(f.GetLevel(), 255)), f.GetSolveMillis()
			failed[i] = []string{}
			for _, c := range f.GetChecks() {
				if !c.GetPassed() {
					failed[i] = append(failed[i], c.GetName())
				}
			}
			rule[i], reason[i], source[i], ip[i], nonce[i] = f.GetRule(), f.GetReason(), f.GetSource(), f.GetClientIp(), f.GetNonce()
			kpart[i], koff[i] = sr.partition, uint64(sr.offset)
		}
		return appendColumns(b, tm, sub, kind, ch, level, solve, failed, rule, reason, source, ip, nonce, kpart, koff)
	},
}

var auditTable = table{
	name: "audit",
	columns: []string{"time", "actor", "role", "action", "subject", "reason", "ttl_seconds", "detail", "result",
		"remote_addr", "kafka_partition", "kafka_offset"},
	decode: func(r *kgo.Record, _ *verdictState) (any, error) {
		if len(r.Value) == 0 {
			return nil, errEmpty
		}
		a := &eventpb.AuditEvent{}
		if err := proto.Unmarshal(r.Value, a); err != nil {
			return nil, err
		}
		if a.GetTimeUnixNano() == 0 {
			a.TimeUnixNano = r.Timestamp.UnixNano()
		}
		return a, nil
	},
	write: func(b driver.Batch, rows []sendRow) error {
		n := len(rows)
		tm, actor, role, action, sub := make([]time.Time, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		reason, ttl, detail, result, addr := make([]string, n), make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
		kpart, koff := make([]int32, n), make([]uint64, n)
		for i, sr := range rows {
			a := sr.v.(*eventpb.AuditEvent)
			tm[i], actor[i], role[i], action[i], sub[i] = nanoTime(a.GetTimeUnixNano()), a.GetActor(), a.GetRole(), a.GetAction(), a.GetSubject()
			reason[i], ttl[i], detail[i], result[i], addr[i] = a.GetReason(), a.GetTtlSeconds(), a.GetDetail(), a.GetResult(), a.GetRemoteAddr()
			kpart[i], koff[i] = sr.partition, uint64(sr.offset)
		}
		return appendColumns(b, tm, actor, role, action, sub, reason, ttl, detail, result, addr, kpart, koff)
	},
}

var attacksTable = table{
	name: "attacks",
	columns: []string{"time", "id", "endpoint_class", "signal", "started", "ended", "until", "strength", "observed", "expected",
		"fingerprints", "enforcing", "reason", "source", "requests", "failures", "new_clients", "no_page_clients",
		"kafka_partition", "kafka_offset"},
	decode: func(r *kgo.Record, _ *verdictState) (any, error) {
		if len(r.Value) == 0 {
			return nil, errEmpty
		}
		a := &eventpb.Attack{}
		if err := proto.Unmarshal(r.Value, a); err != nil {
			return nil, err
		}
		if a.GetId() == "" {
			return nil, errors.New("attack record without id")
		}
		if a.GetTimeUnixNano() == 0 {
			a.TimeUnixNano = r.Timestamp.UnixNano()
		}
		return a, nil
	},
	write: func(b driver.Batch, rows []sendRow) error {
		n := len(rows)
		tm, started, ended, until := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		id, class, signal, reason, source := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		strength, observed, expected := make([]float64, n), make([]float64, n), make([]float64, n)
		fps, enforcing := make([][]string, n), make([]uint8, n)
		req, fail, fresh, nopage := make([]uint32, n), make([]uint32, n), make([]uint32, n), make([]uint32, n)
		kpart, koff := make([]int32, n), make([]uint64, n)
		for i, sr := range rows {
			a := sr.v.(*eventpb.Attack)
			tm[i], started[i], ended[i], until[i] = nanoTime(a.GetTimeUnixNano()), nanoTime(a.GetStartedUnixNano()), nanoTime(a.GetEndedUnixNano()), nanoTime(a.GetUntilUnixNano())
			id[i], class[i], signal[i], reason[i], source[i] = a.GetId(), a.GetEndpointClass(), a.GetSignal(), a.GetReason(), a.GetSource()
			strength[i], observed[i], expected[i] = a.GetStrength(), a.GetObserved(), a.GetExpected()
			fps[i] = nonNil(a.GetFingerprints())
			if a.GetEnforcing() {
				enforcing[i] = 1
			}
			req[i], fail[i], fresh[i], nopage[i] = a.GetRequests(), a.GetFailures(), a.GetNewClients(), a.GetNoPageClients()
			kpart[i], koff[i] = sr.partition, uint64(sr.offset)
		}
		return appendColumns(b, tm, id, class, signal, started, ended, until, strength, observed, expected,
			fps, enforcing, reason, source, req, fail, fresh, nopage, kpart, koff)
	},
}

// appendColumns appends whole columns, in the order of the table's column
// list: far cheaper than row-wise Append, which converts every value.
func appendColumns(b driver.Batch, cols ...any) error {
	for i, c := range cols {
		if err := b.Column(i).Append(c); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sortedFeatures(m map[string]float64) ([]string, []float64) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sortStrings(names)
	vals := make([]float64, len(names))
	for i, k := range names {
		vals[i] = m[k]
	}
	return names, vals
}

// ipOf parses a request's client IP; the zero Addr when it is not one.
func ipOf(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
