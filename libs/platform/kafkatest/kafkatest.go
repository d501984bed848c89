// Package kafkatest starts an embedded Kafka broker for a test, with the
// Bulwark topics created, and stops it when the test ends.
package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwarkhq/bulwark/libs/platform/embedkafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// Option changes the broker a test gets.
type Option func(*embedkafka.Config)

// WithDataDir persists the broker in dir, so a test can restart it.
func WithDataDir(dir string) Option { return func(c *embedkafka.Config) { c.DataDir = dir } }

// WithListen fixes the listen address (to restart on the same port).
func WithListen(addr string) Option { return func(c *embedkafka.Config) { c.Listen = addr } }

// WithPartitions sets the partitions of the created topics (default 4).
func WithPartitions(n int32) Option { return func(c *embedkafka.Config) { c.Partitions = n } }

// Start starts a broker that is closed with t.Cleanup.
func Start(t testing.TB, opts ...Option) *embedkafka.Broker {
	t.Helper()
	cfg := embedkafka.Config{Listen: "127.0.0.1:0"}
	for _, o := range opts {
		o(&cfg)
	}
	b, err := embedkafka.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start embedded kafka: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// Config returns a kafka.Config pointing at b with the default topics.
func Config(b *embedkafka.Broker) kafka.Config {
	return kafka.Config{
		Brokers:     []string{b.Addr()},
		ClientID:    "bulwark-test",
		DialTimeout: 5 * time.Second,
		Topics:      kafka.DefaultTopics(),
	}
}

// Client returns a plain client for b, closed with t.Cleanup.
func Client(t testing.TB, b *embedkafka.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kafka.NewClient(Config(b), nil, opts...)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ReadAll consumes topic from the start until it has read n records or the
// timeout passes, with an independent client, and returns what it read.
func ReadAll(t testing.TB, b *embedkafka.Broker, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := Client(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// ReadUntilQuiet polls cl until it has read at least want records and no
// more has arrived for 1.5 s, or until timeout: what a test uses to check
// that exactly the expected records exist, nothing more arriving late.
func ReadUntilQuiet(t testing.TB, cl *kgo.Client, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var out []*kgo.Record
	quietSince := time.Now()
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		if n > 0 {
			quietSince = time.Now()
		}
		if len(out) >= want && time.Since(quietSince) > 1500*time.Millisecond {
			break
		}
	}
	return out
}
