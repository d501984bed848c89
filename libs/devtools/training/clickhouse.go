package training

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// ClickHouse as a training input (`bulwark train --clickhouse`): the
// requests table that bulwark-chsink fills is replayed through the
// aggregator's engine like log files or the requests topic, and the
// feedback table gives the same labels as the feedback topic
// (FeedbackLabels: verified evidence only, the same caps).
//
// The requests table does not hold every field of a RequestEvent. Since
// migration 009 it has the three that features read and it lacked:
// malformed (the malformed_request feature), sec_fetch_mode and
// sec_fetch_dest (background_share_10m); rows written before it, or a
// database not yet migrated, have them empty. Still missing, and absent from
// the rebuilt events: remote_addr, forwarded_for, tls_cipher and
// source_file_id (no feature reads them), and the CDN's own country and ASN
// apart from the shipper's GeoIP values (the table keeps one of each; the
// engine prefers the enriched ones anyway). Accept-Language is a string, so a
// request without the header and a log that does not record it look alike:
// a source (the shipper's file or Logpush job) with the header on any
// request in the range is taken to log it, and its requests without one get
// an empty header, as the shipper would have given them.

// ParseClickHouse reads --clickhouse: a native-protocol address host:port
// (with the rest of base, from BULWARK_CLICKHOUSE_*), or a DSN
// clickhouse://user:password@host:port/database[?secure=true].
func ParseClickHouse(s string, base chschema.Config) (chschema.Config, error) {
	c := base
	if c.Database == "" {
		c.Database = "bulwark"
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if !strings.Contains(s, "://") {
		c.Addr = s
		return c, c.Validate()
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "clickhouse" {
		return c, fmt.Errorf("%q: want host:port or clickhouse://user:password@host:port/database", redact(s))
	}
	opts, err := clickhouse.ParseDSN(s)
	if err != nil {
		return c, fmt.Errorf("%q: %w", redact(s), err)
	}
	if len(opts.Addr) != 1 {
		return c, fmt.Errorf("%q: want one host:port", redact(s))
	}
	c.Addr = opts.Addr[0]
	if opts.Auth.Database != "" {
		c.Database = opts.Auth.Database
	}
	if opts.Auth.Username != "" {
		c.User, c.Password = opts.Auth.Username, opts.Auth.Password
	}
	if opts.TLS != nil {
		c.TLS = true
	}
	return c, c.Validate()
}

// redact hides a DSN's password in errors; an address url.Parse cannot
// read loses whatever precedes its last '@'.
func redact(s string) string {
	u, err := url.Parse(s)
	if err == nil {
		if u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			}
		}
		return u.String()
	}
	i := strings.LastIndex(s, "@")
	if i < 0 {
		return s
	}
	if j := strings.Index(s, "://"); j >= 0 && j < i {
		return s[:j+3] + "xxxxx" + s[i:]
	}
	return "xxxxx" + s[i:]
}

// requestColumns are the requests table's columns a RequestEvent is
// rebuilt from, in the order requestRow scans them.
const requestColumns = `time_unix_nano, client_ip, method, host, path, query, protocol, status, response_bytes,
request_time, user_agent, referer, accept_language, session_id, tls_version, ja3, ja4, country, asn, as_org,
cdn_bot_score, cdn_verified_bot, cdn_request_id, cdn_security_action, source, source_offset, format`

// laterColumns are request columns of later migrations (009), read as empty
// from a database that lacks them.
var laterColumns = []string{"malformed", "sec_fetch_mode", "sec_fetch_dest"}

// CHRequests reads the requests table in event-time order: a replay input
// (replay.Events). FINAL counts a row the sink wrote twice once. The query
// runs at the first Next.
type CHRequests struct {
	conn         driver.Conn
	db           string
	since, until time.Time
	rows         driver.Rows
	logsAL       map[string]bool // sources that log Accept-Language
	closed       bool
}

// NewCHRequests reads db's requests of [since, until) (zero: open) on conn.
func NewCHRequests(conn driver.Conn, db string, since, until time.Time) *CHRequests {
	return &CHRequests{conn: conn, db: db, since: since, until: until}
}

// rangeClause bounds a query to [since, until) of event time; the coarse
// bound on time (seconds) lets ClickHouse skip the day partitions outside.
func rangeClause(since, until time.Time) string {
	var w []string
	if !since.IsZero() {
		w = append(w, fmt.Sprintf("time >= toDateTime(%d) AND time_unix_nano >= %d", since.Unix(), since.UnixNano()))
	}
	if !until.IsZero() {
		w = append(w, fmt.Sprintf("time <= toDateTime(%d) AND time_unix_nano < %d", until.Unix(), until.UnixNano()))
	}
	if len(w) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w, " AND ")
}

// open runs the queries.
func (r *CHRequests) open(ctx context.Context) error {
	where := rangeClause(r.since, r.until)
	r.logsAL = map[string]bool{}
	al, err := r.conn.Query(ctx, "SELECT DISTINCT source FROM "+r.db+".requests"+andWhere(where, "accept_language != ''"))
	if err != nil {
		return err
	}
	defer al.Close()
	for al.Next() {
		var src string
		if err := al.Scan(&src); err != nil {
			return err
		}
		r.logsAL[src] = true
	}
	if err := al.Err(); err != nil {
		return err
	}
	have := map[string]bool{}
	cols, err := r.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = 'requests'", r.db)
	if err != nil {
		return err
	}
	defer cols.Close()
	for cols.Next() {
		var name string
		if err := cols.Scan(&name); err != nil {
			return err
		}
		have[name] = true
	}
	if err := cols.Err(); err != nil {
		return err
	}
	list := requestColumns
	for _, c := range laterColumns {
		if have[c] {
			list += ", " + c
		} else {
			list += ", '' AS " + c
		}
	}
	r.rows, err = r.conn.Query(ctx, "SELECT "+list+" FROM "+r.db+".requests FINAL"+where+
		" ORDER BY time_unix_nano, kafka_partition, kafka_offset")
	return err
}

func andWhere(where, cond string) string {
	if where == "" {
		return " WHERE " + cond
	}
	return where + " AND " + cond
}

// Next returns the next request, or io.EOF after the last.
func (r *CHRequests) Next(ctx context.Context) (*eventpb.RequestEvent, error) {
	if r.closed {
		return nil, io.EOF
	}
	if r.rows == nil {
		if err := r.open(ctx); err != nil {
			return nil, fmt.Errorf("read %s.requests: %w", r.db, err)
		}
	}
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return nil, fmt.Errorf("read %s.requests: %w", r.db, err)
		}
		return nil, io.EOF
	}
	ev, err := r.scan()
	if err != nil {
		return nil, fmt.Errorf("read %s.requests: %w", r.db, err)
	}
	return ev, nil
}

func (r *CHRequests) scan() (*eventpb.RequestEvent, error) {
	var (
		ev       eventpb.RequestEvent
		status   uint16
		rtime    *float64
		lang     string
		botScore *uint8
		verified uint8
	)
	err := r.rows.Scan(&ev.TimeUnixNano, &ev.ClientIp, &ev.Method, &ev.Host, &ev.Path, &ev.Query, &ev.Protocol,
		&status, &ev.ResponseBytes, &rtime, &ev.UserAgent, &ev.Referer, &lang, &ev.SessionId, &ev.TlsVersion,
		&ev.Ja3, &ev.Ja4, &ev.GeoCountry, &ev.Asn, &ev.AsOrg, &botScore, &verified, &ev.CdnRequestId,
		&ev.CdnSecurityAction, &ev.Source, &ev.SourceOffset, &ev.Format, &ev.Malformed, &ev.SecFetchMode, &ev.SecFetchDest)
	if err != nil {
		return nil, err
	}
	ev.Status = uint32(status)
	ev.RequestTimeSeconds = rtime
	if lang != "" || r.logsAL[ev.Source] {
		ev.AcceptLanguage = proto.String(lang)
	}
	if botScore != nil {
		ev.CdnBotScore = proto.Uint32(uint32(*botScore))
	}
	if verified != 0 {
		ev.CdnVerifiedBot = proto.Bool(true)
	}
	return &ev, nil
}

// Close ends the query; it may be called more than once.
func (r *CHRequests) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.rows == nil {
		return nil
	}
	return r.rows.Close()
}

// ReadCHFeedback reads db's feedback table (every row, as --feedback reads
// the whole topic) as feedback records, for FeedbackLabels. The table keeps
// the names of the failed checks only, which is all Evidence looks at;
// times are whole seconds, which the per-hour cap does not notice.
func ReadCHFeedback(ctx context.Context, conn driver.Conn, db string) ([]*eventpb.Feedback, int, error) {
	rows, err := conn.Query(ctx, "SELECT time, subject, kind, checks_failed, client_ip FROM "+db+".feedback FINAL ORDER BY time, kafka_partition, kafka_offset")
	if err != nil {
		return nil, 0, fmt.Errorf("read %s.feedback: %w", db, err)
	}
	defer rows.Close()
	var out []*eventpb.Feedback
	bad := 0
	for rows.Next() {
		var (
			at         time.Time
			subj, kind string
			failed     []string
			clientIP   string
		)
		if err := rows.Scan(&at, &subj, &kind, &failed, &clientIP); err != nil {
			return nil, 0, fmt.Errorf("read %s.feedback: %w", db, err)
		}
		k, ok := eventpb.FeedbackKind_value[kind]
		if !ok {
			bad++ // a kind this build does not know: no evidence it can weigh
			continue
		}
		f := &eventpb.Feedback{Subject: subj, Kind: eventpb.FeedbackKind(k), TimeUnixNano: at.UnixNano(), ClientIp: clientIP}
		for _, name := range failed {
			f.Checks = append(f.Checks, &eventpb.CheckOutcome{Name: name})
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read %s.feedback: %w", db, err)
	}
	return out, bad, nil
}
