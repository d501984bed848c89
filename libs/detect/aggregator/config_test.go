package aggregator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func TestConfig(t *testing.T) {
	f := func(env map[string]string, wantErr string) {
		t.Helper()
		c, err := config.LoadFrom[Config](env)
		switch {
		case wantErr == "" && err != nil:
			t.Fatalf("%v: %v", env, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Fatalf("%v: error %v, want it to name %s", env, err, wantErr)
		case wantErr == "" && c != DefaultConfig():
			t.Fatalf("defaults %+v differ from DefaultConfig %+v", c, DefaultConfig())
		}
	}
	f(map[string]string{}, "")
	f(map[string]string{"BULWARK_AGGREGATOR_GROUP": ""}, "")
	f(map[string]string{"BULWARK_AGGREGATOR_SNAPSHOT_INTERVAL": "0s"}, "BULWARK_AGGREGATOR_SNAPSHOT_INTERVAL")
	f(map[string]string{"BULWARK_AGGREGATOR_SNAPSHOT_INTERVAL": "1m"}, "BULWARK_AGGREGATOR_SNAPSHOT_INTERVAL")
	f(map[string]string{"BULWARK_AGGREGATOR_IDLE_TIMEOUT": "10s"}, "BULWARK_AGGREGATOR_IDLE_TIMEOUT")
	f(map[string]string{"BULWARK_AGGREGATOR_ALLOWED_LATENESS": "-1s"}, "BULWARK_AGGREGATOR_ALLOWED_LATENESS")
	f(map[string]string{"BULWARK_RULES_FILE": "/nonexistent/rules.yaml"}, "BULWARK_RULES_FILE")
	f(map[string]string{"BULWARK_AGGREGATOR_ALLOWED_LATENESS": "soon"}, "BULWARK_AGGREGATOR_ALLOWED_LATENESS")
	f(map[string]string{"BULWARK_SIGNATURES_FILE": "/nonexistent/signatures.yaml"}, "BULWARK_SIGNATURES_FILE")
	bad := filepath.Join(t.TempDir(), "signatures.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nsignatures: [{id: x, category: exploit, severity: high, reference: r, fields: [target], literals: [/a], match: [/b]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f(map[string]string{"BULWARK_SIGNATURES_FILE": bad}, "BULWARK_SIGNATURES_FILE") // its test string fails
}

// TestStateTopicGrows: a requests topic grown after the state topic was
// made gets a state partition for each of its partitions.
func TestStateTopicGrows(t *testing.T) {
	b := kafkatest.Start(t)
	adm := kadm.NewClient(kafkatest.Client(t, b))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, adm, []kafka.TopicSpec{{Name: "state", Partitions: 2, ReplicationFactor: -1}}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.StateTopic = "state"
	a, err := New(cfg, kafkatest.Config(b), testConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.EnsureStateTopic(ctx); err != nil {
		t.Fatal(err)
	}
	tds, err := adm.ListTopics(ctx, "state")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tds["state"].Partitions); n != 4 {
		t.Fatalf("state topic has %d partitions, want 4 like the requests topic", n)
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, "state")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := cfgs.On("state", nil); err != nil || !strings.Contains(describe(v), "cleanup.policy=compact") {
		t.Fatalf("state topic must be compacted: %v %v", describe(v), err)
	}
}

func describe(rc kadm.ResourceConfig) string {
	var b strings.Builder
	for _, c := range rc.Configs {
		b.WriteString(c.Key + "=" + c.MaybeValue() + " ")
	}
	return b.String()
}

func TestHostingASNsFile(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.txt"), filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(good, []byte("# mine\nAS64500\n64501\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("64500\nnot-an-asn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.HostingASNsFile = good
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, _ := c.HostingASNs()
	if !s.Has(64500) || !s.Has(64501) || s.Has(16509) {
		t.Fatalf("hosting list from the file: %v", s)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.txt")} {
		c.HostingASNsFile = path
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "BULWARK_AGGREGATOR_HOSTING_ASNS_FILE") {
			t.Errorf("%s: %v, want an error naming BULWARK_AGGREGATOR_HOSTING_ASNS_FILE", path, err)
		}
	}
}
