package simulate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// ErrUnbounded is returned by Write for a config without a Duration.
var ErrUnbounded = errors.New("simulate: a run written to a file needs a duration")

// Write writes all of g's requests to w as log lines in its config's
// format, and returns how many it wrote. It checks ctx every few thousand lines.
func Write(ctx context.Context, g *Generator, w io.Writer) (int64, error) {
	if g.cfg.Duration <= 0 {
		return 0, ErrUnbounded
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var (
		r    Request
		line []byte
		n    int64
	)
	for g.Next(&r) {
		line = AppendLine(line[:0], &r, g.cfg.Format, g.cfg.Host, g.cfg.RequestTime)
		if _, err := bw.Write(line); err != nil {
			return n, fmt.Errorf("write simulated log: %w", err)
		}
		n++
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write simulated log: %w", err)
	}
	return n, nil
}

// WriteLabels writes the labels file: one JSON object mapping each client
// address to its label and kind, one address a line, sorted, so that files
// of the same run are identical and diff well.
func WriteLabels(w io.Writer, labels map[string]Label) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("{")
	for i, ip := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			bw.WriteString(",")
		}
		k, _ := json.Marshal(ip)
		v, _ := json.Marshal(labels[ip])
		fmt.Fprintf(bw, "\n%s: %s", k, v)
	}
	bw.WriteString("\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write labels: %w", err)
	}
	return nil
}

// ReadLabels reads a labels file written by WriteLabels.
func ReadLabels(r io.Reader) (map[string]Label, error) {
	var m map[string]Label
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	return m, nil
}

// LiveRequests generates traffic stamped with the current time, at real
// pace, calling emit with each request when its time comes, until ctx ends
// or cfg.Duration (if not 0) has passed. cfg.Start is ignored: the run
// starts now. The request is reused after emit returns.
func LiveRequests(ctx context.Context, cfg Config, emit func(*Request) error) error {
	cfg.Start = time.Now()
	g, err := New(cfg)
	if err != nil {
		return err
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var r Request
	for g.Next(&r) {
		if wait := time.Until(r.Time()); wait > time.Millisecond {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		if err := emit(&r); err != nil {
			return err
		}
	}
	return nil
}

// Live is LiveRequests with each request formatted as a log line (with its
// trailing newline) in cfg.Format. The line is reused after emit returns.
func Live(ctx context.Context, cfg Config, emit func(line []byte) error) error {
	var line []byte
	return LiveRequests(ctx, cfg, func(r *Request) error {
		line = AppendLine(line[:0], r, cfg.Format, cfg.Host, cfg.RequestTime)
		return emit(line)
	})
}
