package shipper

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// ackFunc is told where Kafka stored a line's record.
type ackFunc func(topic string, partition int32, offset int64)

// encoder turns lines of one source into records. It is used by one
// goroutine; the parsed event is reused line after line.
type encoder struct {
	s       *Shipper
	source  string
	format  string
	parser  logparse.Parser
	ev      eventpb.RequestEvent
	slab    []byte
	fileID  tail.Identity
	fileStr string

	shippedC prometheus.Counter
}

// slabSize is the chunk that records' keys and values are carved from: one
// allocation per chunk instead of two per line. A chunk lives until the last
// record carved from it is acknowledged and dropped by the client.
const slabSize = 256 << 10

func newEncoder(s *Shipper, source string, p logparse.Parser) *encoder {
	return &encoder{
		s: s, source: source, format: string(s.format), parser: p,
		shippedC: s.metrics.linesShipped.WithLabelValues(source),
	}
}

// alloc returns a zero-length slice with room for exactly n bytes.
func (e *encoder) alloc(n int) []byte {
	if n > slabSize/8 {
		return make([]byte, 0, n)
	}
	if cap(e.slab)-len(e.slab) < n {
		e.slab = make([]byte, 0, slabSize)
	}
	l := len(e.slab)
	e.slab = e.slab[:l+n]
	return e.slab[l : l : l+n]
}

// ship parses line and produces it (or its dead letter); acked is called
// once Kafka acknowledged the record. It blocks while the client's buffer
// is full: that is the backpressure that stops reading when Kafka is away.
func (e *encoder) ship(ctx context.Context, line tail.Line, acked ackFunc) error {
	if line.Identity != e.fileID {
		e.fileID, e.fileStr = line.Identity, line.Identity.String()
	}
	var err error
	if line.Truncated {
		err = fmt.Errorf("%w: line longer than %d bytes (BULWARK_SHIPPER_MAX_LINE_BYTES); raw holds its beginning", logparse.ErrTooLong, e.s.cfg.MaxLineBytes)
	} else {
		e.ev.Reset()
		err = e.parser.Parse(line.Data, &e.ev)
	}
	if err != nil {
		return e.produce(ctx, e.deadLetter(line.Data, line.Offset, logparse.Reason(err), err.Error()), acked, nil)
	}
	ev := &e.ev
	ev.Source, ev.SourceOffset, ev.Format, ev.SourceFileId = e.source, line.Offset, e.format, e.fileStr
	e.s.geo.Enrich(ev)
	// Strings in ev may alias the line: marshal now, into the slab.
	size := proto.Size(ev)
	buf := e.alloc(len(ev.ClientIp) + size)
	buf = append(buf, ev.ClientIp...)
	key := buf[:len(ev.ClientIp):len(ev.ClientIp)]
	buf, err = proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(buf, ev)
	if err != nil {
		return e.produce(ctx, e.deadLetter(line.Data, line.Offset, "bad_event", err.Error()), acked, nil)
	}
	rec := &kgo.Record{Topic: e.s.topics.Requests, Key: key, Value: buf[len(key):]}
	offset := line.Offset
	return e.produce(ctx, rec, func(topic string, partition int32, off int64) {
		e.s.shipped.Add(1)
		e.shippedC.Inc()
		acked(topic, partition, off)
	}, func(cause error) *kgo.Record {
		// Kafka refused this record for good; keep the line in the DLQ, with
		// the encoded event as raw (the line itself is gone from the buffer).
		return e.deadLetter(rec.Value, offset, "produce_failed", "raw holds the encoded RequestEvent: "+cause.Error())
	})
}

// deadLetter builds the DLQ record of a line. It allocates: it is the rare
// path, and it may run on the client's callback goroutine.
func (e *encoder) deadLetter(raw []byte, offset int64, reason, detail string) *kgo.Record {
	e.s.rejected.Add(1)
	e.s.metrics.linesRejected.WithLabelValues(e.source, reason).Inc()
	dl := &eventpb.DeadLetter{
		Raw: append([]byte(nil), raw...), Reason: reason, Detail: detail,
		Source: e.source, SourceOffset: offset, Format: e.format, SourceFileId: e.fileStr,
		ReceivedUnixNano: time.Now().UnixNano(),
	}
	val, _ := proto.Marshal(dl) // a DeadLetter of bytes and valid strings always marshals
	return &kgo.Record{Topic: e.s.topics.RequestsDLQ, Key: []byte(e.source), Value: val}
}

// produce hands rec to the client. When Kafka rejects it for good,
// fallback (if set) gives the record to send instead; a record that fails
// because we are stopping is left unacknowledged, so its line is read again
// after a restart (and not duplicated: see Checkpoint).
func (e *encoder) produce(ctx context.Context, rec *kgo.Record, acked ackFunc, fallback func(error) *kgo.Record) error {
	s := e.s
	if ctx.Err() != nil {
		return ctx.Err() // stopping: leave the line unacknowledged
	}
	// The record lives on s.pctx, not ctx: a record handed to the client must
	// still be delivered while the shipper stops (Run flushes it), and only a
	// stop that outlasts StopTimeout abandons it.
	pctx := s.pctx
	s.client.Produce(pctx, rec, func(r *kgo.Record, err error) {
		if err == nil {
			s.metrics.produceLatency.Observe(time.Since(r.Timestamp).Seconds())
			acked(r.Topic, r.Partition, r.Offset)
			return
		}
		if pctx.Err() != nil || errors.Is(err, kgo.ErrClientClosed) || errors.Is(err, context.Canceled) {
			return
		}
		s.metrics.produceErrors.Inc()
		s.log.Error("kafka refused a record", "topic", r.Topic, "err", err)
		if fallback != nil {
			// Produce never blocks inside a promise here: the fallback is
			// sent from its own goroutine.
			dl := fallback(err)
			go s.client.Produce(pctx, dl, func(r *kgo.Record, err error) {
				if err == nil {
					acked(r.Topic, r.Partition, r.Offset)
				}
			})
		}
	})
	return nil
}
