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

// ackFunc is told where Kafka stored the record of line seq (the number the
// caller gave the line when shipping it). It is called once per line, from
// the client's promise goroutine, and must not block.
type ackFunc func(seq uint64, topic string, partition int32, offset int64)

// encoder turns lines of one source into records. It is used by one
// goroutine; the parsed event is reused line after line, and records and
// their bytes come from pooled chunks (see recChunk), so a parsed line
// costs no allocation on its way to Kafka.
type encoder struct {
	s       *Shipper
	source  string
	format  string
	parser  logparse.Parser
	acked   ackFunc
	promise func(*kgo.Record, error) // e.delivered, made once: a method value allocates
	keyHash func(*kgo.Record) int32  // see hashedPartitioner
	ev      eventpb.RequestEvent
	chunk   *recChunk
	fileID  tail.Identity
	fileStr string
	acks    uint64 // records acknowledged, counted by the promise

	shippedC prometheus.Counter
}

// latencySample: one acknowledged record in latencySample has its produce
// latency observed.
const latencySample = 64

func newEncoder(s *Shipper, source string, p logparse.Parser, acked ackFunc) *encoder {
	e := &encoder{
		s: s, source: source, format: string(s.format), parser: p, acked: acked,
		shippedC: s.metrics.linesShipped.WithLabelValues(source),
		keyHash:  keyHasher(s.topics.Requests),
	}
	e.promise = e.delivered
	return e
}

// ship parses line and produces it (or its dead letter); the encoder's
// ackFunc is called with seq once Kafka acknowledged the record. It blocks
// while the client's buffer is full: that is the backpressure that stops
// reading when Kafka is away.
func (e *encoder) ship(ctx context.Context, line tail.Line, seq uint64) error {
	rec, promise := e.prepare(line, seq)
	return e.produce(ctx, rec, promise)
}

// produce hands a prepared record to the client. A record not handed over
// because we are stopping is left unacknowledged, so its line is read again
// after a restart (and not duplicated: see Checkpoint).
func (e *encoder) produce(ctx context.Context, rec *kgo.Record, promise func(*kgo.Record, error)) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The record lives on s.pctx, not ctx: a record handed to the client must
	// still be delivered while the shipper stops (Run flushes it), and only a
	// stop that outlasts StopTimeout abandons it.
	e.s.client.Produce(e.s.pctx, rec, promise)
	return nil
}

// prepare parses line and encodes its record (or its dead letter), with
// the promise to produce it with. It does not touch the client, so lines
// can be prepared in parallel and produced in order (see pipeline).
func (e *encoder) prepare(line tail.Line, seq uint64) (*kgo.Record, func(*kgo.Record, error)) {
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
		return e.deadLetter(line.Data, line.Offset, logparse.Reason(err), err.Error()), e.deadLetterPromise(seq)
	}
	ev := &e.ev
	ev.Source, ev.SourceOffset, ev.Format, ev.SourceFileId = e.source, line.Offset, e.format, e.fileStr
	e.s.geo.Enrich(ev)
	// Strings in ev may alias the line: marshal now, into the chunk.
	if e.chunk == nil || e.chunk.n == len(e.chunk.recs) {
		if e.chunk != nil {
			e.chunk.done()
		}
		e.chunk = getChunk()
	}
	// vtprotobuf's generated marshal, not proto.Marshal: reflection and a
	// second UTF-8 check of every string (the parser already made them
	// valid) were half the cost of a line.
	// The key is the client address (ARCHITECTURE.md, topics); an
	// anonymised event has none and is keyed by its session id, so that a
	// session's events stay in one partition, in order.
	key := ev.ClientIp
	if key == "" {
		key = ev.SessionId
	}
	keyLen := len(key)
	sr, buf := e.chunk.next(e.s.pctx, keyLen+ev.SizeVT())
	copy(buf, key)
	if _, err := ev.MarshalToSizedBufferVT(buf[keyLen:]); err != nil {
		return e.deadLetter(line.Data, line.Offset, "bad_event", err.Error()), e.deadLetterPromise(seq)
	}
	e.chunk.n++
	sr.Record = kgo.Record{Topic: e.s.topics.Requests, Key: buf[:keyLen:keyLen], Value: buf[keyLen:], Context: &sr.meta}
	sr.meta.seq, sr.meta.offset, sr.meta.hash = seq, line.Offset, e.keyHash(&sr.Record)
	return &sr.Record, e.promise
}

// delivered is the promise of every requests record.
func (e *encoder) delivered(r *kgo.Record, err error) {
	m := r.Context.(*recMeta)
	defer m.chunk.release()
	s := e.s
	if err == nil {
		// Latency of one record in latencySample: a clock read costs as
		// much as the rest of this promise. Promises run one at a time,
		// so the counter needs no lock.
		if e.acks++; e.acks%latencySample == 0 {
			s.metrics.produceLatency.Observe(time.Since(r.Timestamp).Seconds())
		}
		s.shipped.Add(1)
		e.shippedC.Inc()
		e.acked(m.seq, r.Topic, r.Partition, r.Offset)
		return
	}
	if s.pctx.Err() != nil || errors.Is(err, kgo.ErrClientClosed) || errors.Is(err, context.Canceled) {
		return // stopping: the line is read again after a restart
	}
	s.metrics.produceErrors.Inc()
	s.log.Error("kafka refused a record", "topic", r.Topic, "err", err)
	// Kafka refused this record for good; keep the line in the DLQ, with the
	// encoded event as raw (the line itself is gone from the buffer). The
	// dead letter copies the value: the chunk is released on return.
	dl := e.deadLetter(r.Value, m.offset, "produce_failed", "raw holds the encoded RequestEvent: "+err.Error())
	seq := m.seq
	// Produce never blocks inside a promise here: the fallback is sent
	// from its own goroutine.
	go s.client.Produce(s.pctx, dl, func(r *kgo.Record, err error) {
		if err == nil {
			e.acked(seq, r.Topic, r.Partition, r.Offset)
		}
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

// deadLetterPromise acknowledges line seq once its dead letter is stored.
// A dead letter Kafka refuses leaves its line unacknowledged: read again
// after a restart.
func (e *encoder) deadLetterPromise(seq uint64) func(*kgo.Record, error) {
	s := e.s
	return func(r *kgo.Record, err error) {
		if err == nil {
			s.metrics.produceLatency.Observe(time.Since(r.Timestamp).Seconds())
			e.acked(seq, r.Topic, r.Partition, r.Offset)
			return
		}
		if s.pctx.Err() != nil || errors.Is(err, kgo.ErrClientClosed) || errors.Is(err, context.Canceled) {
			return
		}
		s.metrics.produceErrors.Inc()
		s.log.Error("kafka refused a dead letter", "topic", r.Topic, "err", err)
	}
}
