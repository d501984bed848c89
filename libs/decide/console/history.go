package console

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// historyDays bounds how far back the client page reads verdict changes
// from ClickHouse: the verdicts table is partitioned by day, so a bound
// keeps a subject's lookup to a month of parts.
const historyDays = 90

// historyShown is how many changes before the console's start the client
// page lists from ClickHouse.
const historyShown = 50

// verdictHistory reads the verdict changes of subjects (the client and its
// network) from ClickHouse's verdicts table, newest first, at most limit.
// The console keeps the changes it read from the verdict topic since it
// started; the topic is compacted, so older changes exist only here.
// Rows the sink wrote twice (after a crash) are dropped by Kafka position.
func (c *chReader) verdictHistory(ctx context.Context, subjects []string, before time.Time, limit int) ([]change, error) {
	if len(subjects) == 0 {
		return nil, nil
	}
	conn, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	// verdicts is ordered by (subject, at): each subject is a range.
	in := strings.TrimSuffix(strings.Repeat("?, ", len(subjects)), ", ")
	q := fmt.Sprintf(`SELECT at_unix_nano, at, subject, action, score, reasons, rule, origin, expires_at, lifted,
		kafka_partition, kafka_offset FROM %s.verdicts
		WHERE subject IN (%s) AND at >= now() - INTERVAL %d DAY AND at <= toDateTime(?)
		ORDER BY at DESC, at_unix_nano DESC LIMIT %d`, c.cfg.Database, in, historyDays, limit*2)
	args := make([]any, 0, len(subjects)+1)
	for _, s := range subjects {
		args = append(args, s)
	}
	args = append(args, before.Unix())
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		c.drop()
		return nil, fmt.Errorf("query verdict history: %w", err)
	}
	defer rows.Close()
	type pos struct {
		p int32
		o uint64
	}
	seen := map[pos]bool{}
	var out []change
	for rows.Next() {
		var (
			ns      int64
			at      time.Time
			ch      change
			expires time.Time
			lifted  uint8
			p       pos
		)
		if err := rows.Scan(&ns, &at, &ch.Subject, &ch.Action, &ch.Score, &ch.Reasons, &ch.Rule, &ch.Origin, &expires, &lifted, &p.p, &p.o); err != nil {
			return nil, fmt.Errorf("read verdict history: %w", err)
		}
		// A lift (tombstone) has no verdict time: the sink stores the
		// record's time in at.
		ch.At = at
		if ns > 0 {
			ch.At = time.Unix(0, ns)
		}
		// Since the console started, the topic brought it the changes.
		if seen[p] || len(out) >= limit || !ch.At.Before(before) {
			continue
		}
		seen[p] = true
		ch.Lifted = lifted == 1
		if !ch.Lifted && expires.Unix() > 0 {
			ch.ExpiresAt = expires
		}
		ch.verdictView.Subject, ch.verdictView.At = ch.Subject, ch.At
		out = append(out, ch)
	}
	return out, rows.Err()
}

// mergeHistory puts the changes read from ClickHouse (older) after the
// ones the console read from the topic, dropping a ClickHouse row that is
// the same record (the latest verdict a restarted console read back from
// the compacted topic), newest first.
func mergeHistory(topic, stored []change) []change {
	type key struct {
		sub string
		at  int64
	}
	have := map[key]bool{}
	for _, c := range topic {
		if !c.Lifted {
			have[key{c.Subject, c.At.UnixNano()}] = true
		}
	}
	out := slices.Clone(topic)
	for _, c := range stored {
		if c.Lifted || !have[key{c.Subject, c.At.UnixNano()}] {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b change) int { return b.At.Compare(a.At) })
	return out
}
