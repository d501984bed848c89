package failover

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// cluster is a multi-broker kfake cluster whose brokers can be killed: the
// listener closes and every open connection to it is cut, as when a broker's
// machine goes away (kfake's RemoveNode alone only stops accepting).
type cluster struct {
	kf    *kfake.Cluster
	addrs []string // by node ID at start

	mu    sync.Mutex
	conns map[string][]net.Conn // by listen address
}

const partitions = 6

func startCluster(tb testing.TB, brokers int) *cluster {
	tb.Helper()
	return startClusterWith(tb, brokers, partitions)
}

// startClusterWith is startCluster with parts partitions per topic.
func startClusterWith(tb testing.TB, brokers int, parts int32) *cluster {
	tb.Helper()
	c := &cluster{conns: map[string][]net.Conn{}}
	kf, err := kfake.NewCluster(
		kfake.NumBrokers(brokers),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			ln, err := net.Listen(network, "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			return &trackedListener{Listener: ln, c: c}, nil
		}),
	)
	if err != nil {
		tb.Fatalf("start %d-broker cluster: %v", brokers, err)
	}
	tb.Cleanup(kf.Close)
	c.kf = kf
	c.addrs = kf.ListenAddrs()
	cl := c.client(tb, "failover-setup")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kadm.NewClient(cl), kafka.DefaultTopics().Specs(parts, 3)); err != nil {
		tb.Fatalf("create topics: %v", err)
	}
	// The aggregator's state topic too, as a deployment has it before any
	// failure: kfake keeps naming a removed broker as the controller, so a
	// CreateTopics after a broker loss can fail where Kafka's would not.
	a, err := aggregator.New(aggregator.DefaultConfig(), c.config("failover-setup"), scoring.DefaultConfig(), nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.EnsureStateTopic(ctx); err != nil {
		tb.Fatalf("create the aggregator's state topic: %v", err)
	}
	return c
}

func (c *cluster) config(id string) kafka.Config {
	return kafka.Config{
		Brokers:     c.addrs,
		ClientID:    id,
		DialTimeout: 2 * time.Second,
		Topics:      kafka.DefaultTopics(),
	}
}

func (c *cluster) client(tb testing.TB, id string, opts ...kgo.Opt) *kgo.Client {
	tb.Helper()
	cl, err := kafka.NewClient(c.config(id), nil, opts...)
	if err != nil {
		tb.Fatalf("kafka client: %v", err)
	}
	tb.Cleanup(cl.Close)
	return cl
}

// kill removes broker node: its partitions get new leaders on the others.
func (c *cluster) kill(tb testing.TB, node int32) {
	tb.Helper()
	addr := c.addrs[node]
	if err := c.kf.RemoveNode(node); err != nil {
		tb.Fatalf("remove broker %d: %v", node, err)
	}
	c.mu.Lock()
	conns := c.conns[addr]
	delete(c.conns, addr)
	c.mu.Unlock()
	for _, conn := range conns {
		conn.Close()
	}
}

// leaderOfMost is the broker leading most partitions of topic (the one
// whose loss hurts most) other than the controller: kfake's controller
// never moves, while in a KRaft cluster the controllers are a separate
// quorum that survives a broker's loss.
func (c *cluster) leaderOfMost(tb testing.TB, topic string) int32 {
	tb.Helper()
	cl := c.client(tb, "failover-metadata")
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		tb.Fatalf("cluster metadata: %v", err)
	}
	n := map[int32]int{}
	best := int32(-1)
	for p := int32(0); p < partitions; p++ {
		l := c.kf.LeaderFor(topic, p)
		if l == md.Controller {
			continue
		}
		n[l]++
		if best < 0 || n[l] > n[best] {
			best = l
		}
	}
	if best < 0 {
		for _, b := range md.Brokers {
			if b.NodeID != md.Controller {
				best = b.NodeID
			}
		}
	}
	return best
}

type trackedListener struct {
	net.Listener
	c *cluster
}

func (l *trackedListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	addr := l.Listener.Addr().String()
	l.c.mu.Lock()
	l.c.conns[addr] = append(l.c.conns[addr], conn)
	l.c.mu.Unlock()
	return conn, nil
}
