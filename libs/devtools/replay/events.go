package replay

import (
	"context"
	"errors"
	"io"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Events is an input other than log files and the requests topic, such as
// ClickHouse's requests table (`bulwark train --clickhouse`): it yields
// events in event-time order.
type Events interface {
	// Next returns the next event, which the replay keeps (a new one each
	// call), or io.EOF after the last.
	Next(ctx context.Context) (*eventpb.RequestEvent, error)
	Close() error
}

// eventsSource fills batches from an Events input, keeping the window.
type eventsSource struct {
	in Events
	w  window
	c  *counters
}

func (s *eventsSource) fill(ctx context.Context, b *batch) error {
	for !b.full() {
		ev, err := s.in.Next(ctx)
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		if err != nil {
			return err
		}
		s.c.lines.Add(1)
		if !s.w.keep(ev.GetTimeUnixNano()) {
			s.c.skipped.Add(1)
			continue
		}
		b.slots[b.n].ev = ev
		b.n++
		s.c.events.Add(1)
	}
	return nil
}

func (s *eventsSource) close() error { return s.in.Close() }
