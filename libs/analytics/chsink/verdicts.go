package chsink

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
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
	// fpByAddr lists, per address, the fp: verdicts that list it (an fp:
	// verdict acts on those addresses only).
	fpByAddr map[netip.Addr][]string
	// bots names the bot a request declares; it rides here because this is
	// the state every table's decode is given.
	bots *botClassifier
}

type activeVerdict struct {
	action  eventpb.Action
	expires int64    // Unix nanoseconds, 0 = never
	addrs   []string // an fp: verdict's addresses
}

func newVerdictState() *verdictState { return &verdictState{m: map[string]activeVerdict{}} }

func (vs *verdictState) set(v *eventpb.Verdict) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	vs.unindexFP(v.GetSubject())
	if v.GetAction() == eventpb.Action_ACTION_UNSPECIFIED {
		delete(vs.m, v.GetSubject())
		return
	}
	vs.m[v.GetSubject()] = activeVerdict{action: v.GetAction(), expires: v.GetExpiresAtUnixNano(), addrs: v.GetAddresses()}
	vs.indexFP(v.GetSubject(), v.GetAddresses())
}

// indexFP and unindexFP keep fpByAddr; called with mu held.
func (vs *verdictState) indexFP(subj string, addrs []string) {
	if len(addrs) == 0 || !strings.HasPrefix(subj, "fp:") {
		return
	}
	if vs.fpByAddr == nil {
		vs.fpByAddr = map[netip.Addr][]string{}
	}
	for _, s := range addrs {
		if a := ipOf(s); a.IsValid() {
			vs.fpByAddr[a] = append(vs.fpByAddr[a], subj)
		}
	}
}

func (vs *verdictState) unindexFP(subj string) {
	old, ok := vs.m[subj]
	if !ok || len(old.addrs) == 0 {
		return
	}
	for _, s := range old.addrs {
		a := ipOf(s)
		if fps := slices.DeleteFunc(vs.fpByAddr[a], func(x string) bool { return x == subj }); len(fps) > 0 {
			vs.fpByAddr[a] = fps
		} else {
			delete(vs.fpByAddr, a)
		}
	}
}

func (vs *verdictState) lift(subj string) {
	vs.mu.Lock()
	vs.unindexFP(subj)
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
		for _, fp := range vs.fpByAddr[a] {
			check(fp)
		}
	}
	if id := e.GetSessionId(); id != "" {
		check(subject.Session(subject.SessionID(id))) // as the aggregator names it
	}
	return actionName(best)
}

// load reads the latest verdict per subject from the verdicts table, so a
// restarted sink marks requests right before it has re-read the topic.
func (vs *verdictState) load(ctx context.Context, conn driver.Conn, db string, now time.Time) error {
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT subject, a, e, ad FROM (
		SELECT subject, argMax(action, (at_unix_nano, kafka_offset)) AS a, argMax(expires_at, (at_unix_nano, kafka_offset)) AS e,
			argMax(addresses, (at_unix_nano, kafka_offset)) AS ad
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
		var ad []string
		if err := rows.Scan(&s, &a, &e, &ad); err != nil {
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
		vs.unindexFP(s)
		vs.m[s] = activeVerdict{action: act, expires: exp, addrs: ad}
		vs.indexFP(s, ad)
	}
	return rows.Err()
}

func sortStrings(s []string) { sort.Strings(s) }
