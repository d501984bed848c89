package chsink

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// SetAfterInsert installs the hook that runs between an acknowledged insert
// and the offset commit; an error from it ends Run like a crash.
func (s *Sink) SetAfterInsert(f func(table string) error) { s.afterInsert = f }

// LoadedActions loads the verdict state from db as a restarted sink would
// and returns the action it holds per subject.
func LoadedActions(ctx context.Context, conn driver.Conn, db string, now time.Time) (map[string]string, error) {
	vs := newVerdictState()
	if err := vs.load(ctx, conn, db, now); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range vs.m {
		out[k] = actionName(v.action)
	}
	return out, nil
}
