package gate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// EventSink receives a request event per request the gate answered.
type EventSink interface {
	Publish(ctx context.Context, e *eventpb.RequestEvent)
}

// kafkaEvents publishes request events to the requests topic keyed by
// client IP, as the shipper does. A visitor never waits for Kafka: events
// are buffered, and when Kafka is away and the buffer is full an event is
// dropped and counted.
type kafkaEvents struct {
	cl      *kgo.Client
	sent    prometheus.Counter
	dropped *prometheus.CounterVec
}

func newKafkaEvents(cfg kafka.Config, reg prometheus.Registerer) (*kafkaEvents, error) {
	cl, err := kafka.NewClient(cfg.WithClientID("gate"), reg,
		kgo.DefaultProduceTopic(cfg.Topics.Requests),
		kgo.MaxBufferedRecords(50000),
		kgo.ProducerLinger(20*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()),
	)
	if err != nil {
		return nil, fmt.Errorf("gate: requests producer: %w", err)
	}
	k := &kafkaEvents{cl: cl,
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bulwark_gate_events_published_total", Help: "Request events acknowledged by Kafka.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_gate_events_dropped_total", Help: "Request events not published, by reason (buffer_full, kafka, encode).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(k.sent, k.dropped)
	}
	return k, nil
}

func (k *kafkaEvents) Publish(ctx context.Context, e *eventpb.RequestEvent) {
	b, err := proto.Marshal(e)
	if err != nil {
		k.dropped.WithLabelValues("encode").Inc()
		return
	}
	// The request's context ends as soon as the answer is written, while
	// the record lingers in the producer's buffer: with it, franz-go
	// drops the record (context canceled). The event outlives the request.
	k.cl.TryProduce(context.WithoutCancel(ctx), &kgo.Record{Key: []byte(e.GetClientIp()), Value: b}, func(_ *kgo.Record, err error) {
		switch {
		case err == nil:
			k.sent.Inc()
		case errors.Is(err, kgo.ErrMaxBuffered):
			k.dropped.WithLabelValues("buffer_full").Inc()
		default:
			k.dropped.WithLabelValues("kafka").Inc()
		}
	})
}

func (k *kafkaEvents) close(ctx context.Context) error {
	err := k.cl.Flush(ctx)
	k.cl.Close()
	return err
}

// requestEvent describes a request the gate answered, as the shipper
// would from an nginx log line of it.
func requestEvent(r *http.Request, ip, peer netip.Addr, session string, status int, bytes int64, start time.Time, took time.Duration) *eventpb.RequestEvent {
	rt := took.Seconds()
	e := &eventpb.RequestEvent{
		TimeUnixNano:       start.UnixNano(),
		ClientIp:           ip.String(),
		Method:             r.Method,
		Host:               r.Host,
		Path:               r.URL.EscapedPath(),
		Query:              r.URL.RawQuery,
		Protocol:           r.Proto,
		Status:             uint32(status),
		ResponseBytes:      uint64(max(bytes, 0)),
		RequestTimeSeconds: &rt,
		UserAgent:          r.UserAgent(),
		Referer:            r.Referer(),
		SessionId:          session,
		ForwardedFor:       r.Header.Get("X-Forwarded-For"),
		Source:             "gate",
		Format:             "gate",
	}
	if peer != ip && peer.IsValid() {
		e.RemoteAddr = peer.String()
	}
	if al := r.Header.Get("Accept-Language"); al != "" {
		e.AcceptLanguage = &al
	}
	if r.TLS != nil {
		e.TlsVersion = tlsVersion(r.TLS.Version)
	}
	return e
}

func tlsVersion(v uint16) string {
	switch v {
	case 0x0304:
		return "TLSv1.3"
	case 0x0303:
		return "TLSv1.2"
	}
	return ""
}
