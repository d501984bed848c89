package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/training"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// trainClickHouse is `bulwark train --clickhouse`: the requests and
// feedback tables as the training input.
type trainClickHouse struct {
	cfg  chschema.Config
	conn driver.Conn
}

// openTrainClickHouse connects to the --clickhouse server, if one is
// given, and makes it rc's input.
func openTrainClickHouse(ctx context.Context, dsn string, rc *replay.Config) (*trainClickHouse, error) {
	if dsn == "" {
		return nil, nil
	}
	if len(rc.Files) > 0 || rc.Topic {
		return nil, usageError{errors.New("--clickhouse is the input: give no files and no --topic")}
	}
	var base chschema.Config
	_ = config.Parse(&base, nil) // BULWARK_CLICKHOUSE_* fill what --clickhouse leaves out; its address is checked below
	cfg, err := training.ParseClickHouse(dsn, base)
	if err != nil {
		return nil, usageError{fmt.Errorf("--clickhouse: %w", err)}
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout+5*time.Second)
	defer cancel()
	conn, err := chschema.Open(cctx, cfg)
	if err != nil {
		return nil, err
	}
	ch := &trainClickHouse{cfg: cfg, conn: conn}
	rc.Events = ch.requests(time.Time{}, time.Time{}) // each run reads its own (never opened here)
	return ch, nil
}

func (c *trainClickHouse) requests(since, until time.Time) replay.Events {
	return training.NewCHRequests(c.conn, c.cfg.Database, since, until)
}

// feedback reads the feedback table; it has ReadFeedback's signature.
func (c *trainClickHouse) feedback(ctx context.Context, _ kafka.Config) ([]*eventpb.Feedback, int, error) {
	return training.ReadCHFeedback(ctx, c.conn, c.cfg.Database)
}

// source names the input in the model file.
func (c *trainClickHouse) source() string {
	return "clickhouse://" + c.cfg.Addr + "/" + c.cfg.Database + ".requests"
}

func (c *trainClickHouse) close() { _ = c.conn.Close() }
