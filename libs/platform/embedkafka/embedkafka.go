// Package embedkafka runs an in-process Kafka broker (franz-go's kfake) that
// speaks the real Kafka protocol on a loopback port, persisted in a data
// directory, with Bulwark's topics created. `bulwark dev`, `make run` and the
// tests use it so that nothing has to be installed to see the pipeline work.
package embedkafka

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// Config says where the broker listens and keeps its data.
type Config struct {
	// Listen is host:port; the host must be a loopback address (the broker
	// has no authentication). Port 0 picks a free port.
	Listen string
	// DataDir keeps topics and offsets across restarts; empty means in memory.
	DataDir string
	// Partitions of each created topic (the DLQ always has one).
	Partitions int32
	// Topics to create; zero value means kafka.DefaultTopics().
	Topics kafka.Topics
	Logger *slog.Logger
}

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// Start starts the broker and creates the topics. Close it when done.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 4
	}
	if cfg.Topics == (kafka.Topics{}) {
		cfg.Topics = kafka.DefaultTopics()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka listen address %q: %w", cfg.Listen, err)
	}
	ip, err := netip.ParseAddr(host)
	if host == "localhost" {
		ip, err = netip.MustParseAddr("127.0.0.1"), nil
	}
	if err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("embedded kafka listen address %q: host must be a loopback IP (the broker has no authentication)", cfg.Listen)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded kafka listen address %q: bad port", cfg.Listen)
	}
	if port == 0 {
		// kfake takes a port list; ask the kernel for a free one first.
		ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(ip.String(), strconv.Itoa(port)))
		}),
		kfake.WithLogger(slogAdapter{cfg.Logger}),
		kfake.BrokerConfigs(map[string]string{"log.retention.ms": strconv.FormatInt(int64(7*24*time.Hour/time.Millisecond), 10)}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka on %s: %w", cfg.Listen, err)
	}
	b := &Broker{cluster: cluster, addr: cluster.ListenAddrs()[0]}
	if err := b.createTopics(ctx, cfg.Topics, cfg.Partitions); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Broker) createTopics(ctx context.Context, topics kafka.Topics, partitions int32) error {
	cfg := kafka.Config{Brokers: []string{b.addr}, ClientID: "bulwark-embedkafka", DialTimeout: 5 * time.Second}
	cl, err := kafka.NewClient(cfg, nil)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return kafka.EnsureTopics(ctx, kadm.NewClient(cl), topics.Specs(partitions, 1))
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return b.addr }

// Cluster exposes the kfake cluster for tests that inject faults.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker, flushing its data directory.
func (b *Broker) Close() { b.cluster.Close() }

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Logf(level kfake.LogLevel, msg string, args ...any) {
	var lv slog.Level
	switch level {
	case kfake.LogLevelNone:
		return
	case kfake.LogLevelError:
		lv = slog.LevelError
	case kfake.LogLevelWarn:
		lv = slog.LevelWarn
	case kfake.LogLevelInfo:
		lv = slog.LevelDebug // kfake logs every request at info; too chatty for an operator
	default:
		lv = slog.LevelDebug - 4
	}
	if !a.l.Enabled(context.Background(), lv) {
		return
	}
	a.l.Log(context.Background(), lv, fmt.Sprintf(msg, args...), "component", "kfake")
}
