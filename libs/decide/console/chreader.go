package console

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// chReader answers the client page's questions from ClickHouse. The
// connection is opened on first use and again after a failure, so the
// console starts (and shows verdicts) while ClickHouse is away.
type chReader struct {
	cfg  chschema.Config
	mu   sync.Mutex
	conn driver.Conn
}

func newCHReader(cfg chschema.Config) *chReader { return &chReader{cfg: cfg} }

func (c *chReader) get(ctx context.Context) (driver.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return c.conn, nil
	}
	conn, err := chschema.Open(ctx, c.cfg)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	return conn, nil
}

func (c *chReader) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

// request is one row of the recent requests table.
type request struct {
	Time      time.Time
	ClientIP  string
	Method    string
	Host      string
	Path      string
	Status    uint16
	UserAgent string
	Session   string
	Action    string
	Country   string
	ASN       uint32
}

// score is one score of the subject, with its features.
type score struct {
	Time     time.Time
	Score    float64
	Reasons  []string
	Features []feature
}

type feature struct {
	Name  string
	Value float64
}

// label is a challenge outcome or an operator's label.
type label struct {
	Time   time.Time
	Kind   string
	Rule   string
	Reason string
	Source string
}

// requestFilter is the WHERE clause of sub's requests within the last
// hour. The requests table is ordered by (hour, client_ip), so an address
// reads a few granules per hour. An IPv4 network on an octet boundary is a
// prefix of the address text; other networks are looked up by address.
func requestFilter(sub subject.Subject) (string, []any, bool) {
	const since = "time >= now() - INTERVAL 1 HOUR AND "
	switch sub.Kind {
	case subject.KindIP:
		return since + "client_ip = ?", []any{sub.Addr.String()}, true
	case subject.KindSession:
		return since + "session_id = ?", []any{sub.Session}, true
	case subject.KindNet:
		if a := sub.Prefix.Addr(); a.Is4() && sub.Prefix.Bits()%8 == 0 && sub.Prefix.Bits() > 0 {
			octets := strings.Split(a.String(), ".")[:sub.Prefix.Bits()/8]
			return since + "startsWith(client_ip, ?)", []any{strings.Join(octets, ".") + "."}, true
		}
	}
	return "", nil, false
}

func (c *chReader) requests(ctx context.Context, sub subject.Subject, limit int) ([]request, error) {
	where, args, ok := requestFilter(sub)
	if !ok {
		return nil, nil
	}
	conn, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	// No FINAL: a row the sink wrote twice (after a crash) is dropped here
	// by its Kafka position, which costs nothing, where FINAL would merge
	// every part of the hour.
	q := fmt.Sprintf(`SELECT time, client_ip, method, host, path, status, user_agent, session_id, action, country, asn,
		kafka_partition, kafka_offset FROM %s.requests WHERE %s ORDER BY time DESC LIMIT %d`, c.cfg.Database, where, limit*2)
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		c.drop()
		return nil, fmt.Errorf("query recent requests: %w", err)
	}
	defer rows.Close()
	type pos struct {
		p int32
		o uint64
	}
	seen := map[pos]bool{}
	var out []request
	for rows.Next() {
		var r request
		var p pos
		if err := rows.Scan(&r.Time, &r.ClientIP, &r.Method, &r.Host, &r.Path, &r.Status, &r.UserAgent, &r.Session,
			&r.Action, &r.Country, &r.ASN, &p.p, &p.o); err != nil {
			return nil, fmt.Errorf("read recent requests: %w", err)
		}
		if !seen[p] && len(out) < limit {
			seen[p] = true
			out = append(out, r)
		}
	}
	return out, rows.Err()
}

func (c *chReader) scores(ctx context.Context, sub subject.Subject, limit int) ([]score, error) {
	conn, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	// scores is ordered by (subject, time): one subject's day is a range.
	q := fmt.Sprintf(`SELECT time, score, reasons, feature_names, feature_values FROM %s.scores
		WHERE subject = ? AND time >= now() - INTERVAL 1 DAY ORDER BY time DESC LIMIT %d`, c.cfg.Database, limit)
	rows, err := conn.Query(ctx, q, sub.String())
	if err != nil {
		c.drop()
		return nil, fmt.Errorf("query scores: %w", err)
	}
	defer rows.Close()
	var out []score
	for rows.Next() {
		var s score
		var names []string
		var values []float64
		if err := rows.Scan(&s.Time, &s.Score, &s.Reasons, &names, &values); err != nil {
			return nil, fmt.Errorf("read scores: %w", err)
		}
		for i := range min(len(names), len(values)) {
			s.Features = append(s.Features, feature{names[i], values[i]})
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (c *chReader) labels(ctx context.Context, sub subject.Subject, limit int) ([]label, error) {
	conn, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	ip := ""
	if sub.Kind == subject.KindIP {
		ip = sub.Addr.String()
	}
	q := fmt.Sprintf(`SELECT time, kind, rule, reason, source FROM %s.feedback
		WHERE (subject = ? OR (client_ip != '' AND client_ip = ?)) AND time >= now() - INTERVAL 30 DAY
		ORDER BY time DESC LIMIT %d`, c.cfg.Database, limit)
	rows, err := conn.Query(ctx, q, sub.String(), ip)
	if err != nil {
		c.drop()
		return nil, fmt.Errorf("query feedback: %w", err)
	}
	defer rows.Close()
	var out []label
	for rows.Next() {
		var l label
		if err := rows.Scan(&l.Time, &l.Kind, &l.Rule, &l.Reason, &l.Source); err != nil {
			return nil, fmt.Errorf("read feedback: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// drop forgets the connection after a failed query, so the next page
// reconnects (ClickHouse restarted, or was not up yet).
func (c *chReader) drop() { c.close() }
