package console

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// auditLog writes audit records to the audit topic and waits for Kafka's
// acknowledgement: an operator is told when the record of their action
// could not be written.
type auditLog struct {
	cl    *kgo.Client
	topic string
	log   *slog.Logger
}

func newAuditLog(kcfg kafka.Config, log *slog.Logger, reg prometheus.Registerer) (*auditLog, error) {
	cl, err := kafka.NewClient(kcfg.WithClientID("console-audit"), nil,
		kgo.DefaultProduceTopic(kcfg.Topics.Audit), kgo.RecordDeliveryTimeout(15*time.Second))
	if err != nil {
		return nil, fmt.Errorf("console audit writer: %w", err)
	}
	return &auditLog{cl: cl, topic: kcfg.Topics.Audit, log: log}, nil
}

func (a *auditLog) write(ctx context.Context, ev *eventpb.AuditEvent) error {
	b, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode audit record: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := a.cl.ProduceSync(ctx, &kgo.Record{Key: []byte(ev.GetActor()), Value: b}).FirstErr(); err != nil {
		// The log keeps the record when the topic cannot.
		a.log.Error("audit record not written", "record", protojson.Format(ev), "err", err)
		return fmt.Errorf("write audit record to %s: %w", a.topic, err)
	}
	return nil
}

func (a *auditLog) close() { a.cl.Close() }
