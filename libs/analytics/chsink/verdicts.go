package chsink

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// verdictState is the sink's view of the current verdicts, used to mark
// each request with the action in force for its client when the sink wrote
// it (the "action" column the dashboards split human/bot/blocked by). It is
// loaded from ClickHouse at start and kept current from the verdict topic.
type verdictState struct {
	mu sync.RWMutex
	m  map[string]activeVerdict
	// bots names the bot a request declares; it rides here because this is
	// the state every table's decode is given.
	bots *botClassifier
}

type activeVerdict struct {
	action  eventpb.Action
	expires int64 // Unix nanoseconds, 0 = never
}

func newVerdictState() *verdictState { return &verdictState{m: map[string]activeVerdict{}} }

func (vs *verdictState) set(v *eventpb.Verdict) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if v.GetAction() == eventpb.Action_ACTION_UNSPECIFIED {
		delete(vs.m, v.GetSubject())
		return
	}
	vs.m[v.GetSubject()] = activeVerdict{action: v.GetAction(), expires: v.GetExpiresAtUnixNano()}
}

func (vs *verdictState) lift(subj string) {
	vs.mu.Lock()
	delete(vs.m, subj)
	vs.mu.Unlock()
}

// actionFor returns the strongest unexpired verdict on the request's IP, its
// network or its session, or "" when there is none.
func (vs *verdictState) actionFor(e *eventpb.RequestEvent) string {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	if len(vs.m) == 0 {
		return ""
	}
	at := e.GetTimeUnixNano()
	best := eventpb.Action_ACTION_UNSPECIFIED
	check := func(s string) {
		if v, ok := vs.m[s]; ok && (v.expires == 0 || v.expires > at) && v.action > best {
			best = v.action
		}
	}
	if a := ipOf(e.GetClientIp()); a.IsValid() {
		check(subject.IP(a))
		check(subject.Net(subject.NetOf(a)))
	}
	if id := e.GetSessionId(); id != "" {
		check(subject.Session(subject.SessionID(id))) // as the aggregator names it
	}
	return actionName(best)
}

// load reads the latest verdict per subject from the verdicts table, so a
// restarted sink marks requests right before it has re-read the topic.
func (vs *verdictState) load(ctx context.Context, conn driver.Conn, db string, now time.Time) error {
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT subject, a, e FROM (
		SELECT subject, argMax(action, (at_unix_nano, kafka_offset)) AS a, argMax(expires_at, (at_unix_nano, kafka_offset)) AS e
		FROM %s.verdicts GROUP BY subject)
		WHERE a NOT IN ('', '%s') AND (e = toDateTime(0) OR e > ?)`, db, actionLifted), now.UTC())
	if err != nil {
		return fmt.Errorf("load verdicts: %w", err)
	}
	defer rows.Close()
	vs.mu.Lock()
	defer vs.mu.Unlock()
	for rows.Next() {
		var s, a string
		var e time.Time
		if err := rows.Scan(&s, &a, &e); err != nil {
			return fmt.Errorf("load verdicts: %w", err)
		}
		act := eventpb.Action(eventpb.Action_value[a])
		if act == eventpb.Action_ACTION_UNSPECIFIED {
			continue
		}
		var exp int64
		if e.Unix() > 0 {
			exp = e.UnixNano()
		}
		vs.m[s] = activeVerdict{action: act, expires: exp}
	}
	return rows.Err()
}

func sortStrings(s []string) { sort.Strings(s) }
