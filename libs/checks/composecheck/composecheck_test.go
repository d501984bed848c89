package composecheck_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/bulwarkhq/bulwark/libs/checks/composecheck"
)

var root = filepath.Join("..", "..", "..")

func TestDockerCompose(t *testing.T) {
	known := composecheck.KnownVariables()
	for _, v := range []string{"BULWARK_KAFKA_BROKERS", "BULWARK_CLICKHOUSE_ADDR", "BULWARK_CHSINK_GROUP"} {
		if !known[v] {
			t.Fatalf("the programs registry misses %s", v)
		}
	}
	p, err := composecheck.Load(context.Background(), filepath.Join(root, "docker-compose.yml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, problem := range composecheck.Problems(p, known) {
		t.Error(problem)
	}
	// The stack the issue asks for.
	for _, s := range []string{"kafka", "clickhouse", "grafana", "nginx", "shipper", "aggregator", "decider", "sidecar", "chsink", "cfsync"} {
		if _, ok := p.Services[s]; !ok {
			t.Errorf("service %s missing", s)
		}
	}
	if img := p.Services["kafka"].Image; !strings.HasPrefix(img, "apache/kafka:") || strings.HasSuffix(img, ":latest") {
		t.Errorf("kafka image %q: want apache/kafka pinned by tag", img)
	}
	if env := p.Services["kafka"].Environment["KAFKA_PROCESS_ROLES"]; env == nil || !strings.Contains(*env, "controller") {
		t.Error("kafka is not in KRaft mode")
	}
	if prof := p.Services["cfsync"].Profiles; len(prof) == 0 {
		t.Error("cfsync needs a Cloudflare token: it must be behind a profile")
	}
	// The gate is optional (a site with nginx does not need it), in front
	// of an upstream of its own profile, and publishes to a topic that
	// exists.
	gate, ok := p.Services["gate"]
	if !ok || !slices.Contains(gate.Profiles, "gate") {
		t.Errorf("gate: want a service behind the profile gate, got %v", gate.Profiles)
	} else {
		up := gate.Environment["BULWARK_GATE_UPSTREAM"]
		u, err := url.Parse(deref(up))
		if err != nil || u.Hostname() == "" {
			t.Errorf("gate: BULWARK_GATE_UPSTREAM %q", deref(up))
		} else if s, ok := p.Services[u.Hostname()]; !ok || !slices.Contains(s.Profiles, "gate") {
			t.Errorf("gate: its upstream %s is not a service of the gate profile", u.Hostname())
		} else if _, ok := gate.DependsOn[u.Hostname()]; !ok {
			t.Errorf("gate: does not depend on its upstream %s", u.Hostname())
		}
		if _, ok := gate.Environment["BULWARK_CHALLENGE_SECRET"]; !ok {
			t.Error("gate: no BULWARK_CHALLENGE_SECRET")
		}
	}
	topics := strings.Join(p.Services["kafka-topics"].Command, "\n")
	for _, topic := range []string{"bulwark.requests.v1", "bulwark.requests.dlq.v1", "bulwark.scores.v1", "bulwark.verdicts.v1", "bulwark.feedback.v1"} {
		if !strings.Contains(topics, "--topic "+topic+" ") {
			t.Errorf("kafka-topics does not create %s", topic)
		}
	}
	// Every Bulwark service is built from the one Dockerfile, by target.
	for _, s := range []string{"shipper", "aggregator", "decider", "sidecar", "chsink", "cfsync", "gate"} {
		b := p.Services[s].Build
		if b == nil || b.Target != s {
			t.Errorf("%s: want build with target %s, got %+v", s, s, b)
		}
	}
	// Grafana gets the ClickHouse plugin and the provisioning files.
	g := p.Services["grafana"]
	if env := g.Environment["GF_INSTALL_PLUGINS"]; env == nil || !strings.Contains(*env, "grafana-clickhouse-datasource") {
		t.Error("grafana does not install grafana-clickhouse-datasource")
	}
	var mounted bool
	for _, v := range g.Volumes {
		if v.Target == "/etc/grafana/provisioning" {
			mounted = true
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("provisioning source %s: %v", v.Source, err)
			}
		}
	}
	if !mounted {
		t.Error("grafana provisioning not mounted")
	}
	// The shipper reads the log the nginx demo writes.
	if !sharesVolume(p.Services["nginx"].Volumes, p.Services["shipper"].Volumes) {
		t.Error("shipper and nginx share no log volume")
	}
	if f := p.Services["shipper"].Environment["BULWARK_SHIPPER_FILES"]; f == nil || *f == "" {
		t.Error("shipper has no BULWARK_SHIPPER_FILES")
	}
}

func TestDockerfileTargets(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, target := range []string{"shipper", "aggregator", "decider", "sidecar", "cfsync", "chsink", "fwsync", "gate", "bulwark"} {
		if !strings.Contains(df, " AS "+target+"\n") {
			t.Errorf("Dockerfile has no target %s", target)
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "make build", "USER 10001"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sharesVolume(a, b []types.ServiceVolumeConfig) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Type == "volume" && x.Source != "" && x.Source == y.Source {
				return true
			}
		}
	}
	return false
}
