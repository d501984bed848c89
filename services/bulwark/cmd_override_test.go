package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestOverrideCommands(t *testing.T) {
	b := kafkatest.Start(t)
	brokers := "--brokers=" + b.Addr()

	out, err := runCLI(t, brokers, "block", "203.0.113.7", "--ttl", "2h", "--reason", "card testing")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"subject":"ip:203.0.113.7","action":"BLOCK"`) || !strings.Contains(out, `"origin":"OPERATOR"`) {
		t.Fatalf("block printed %s", out)
	}
	if _, err := runCLI(t, brokers, "allow", "net:198.51.100.9/24", "--ttl", "720h"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, brokers, "unblock", "ip:203.0.113.7"); err != nil {
		t.Fatal(err)
	}
	// Wider than the limit: written only with --force, and said so.
	if _, err := runCLI(t, brokers, "block", "net:10.0.0.0/8", "--ttl", "1h"); err == nil {
		t.Fatal("a /8 was written without --force")
	}
	if _, err := runCLI(t, brokers, "block", "net:10.0.0.0/8", "--ttl", "1h", "--force"); err != nil {
		t.Fatal(err)
	}
	// A configured limit lets it through without --force.
	t.Setenv("BULWARK_OVERRIDE_MAX_NET_V6", "16")
	if _, err := runCLI(t, brokers, "block", "net:2001:db8::/16", "--ttl", "1h"); err != nil {
		t.Fatal(err)
	}

	recs := kafkatest.ReadAll(t, b, "bulwark.verdicts.v1", 5, 30*time.Second)
	if len(recs) != 5 {
		t.Fatalf("read %d records", len(recs))
	}
	byKey := map[string][]*eventpb.Verdict{}
	for _, r := range recs {
		var v *eventpb.Verdict
		if r.Value != nil {
			v = &eventpb.Verdict{}
			if err := proto.Unmarshal(r.Value, v); err != nil {
				t.Fatal(err)
			}
		}
		byKey[string(r.Key)] = append(byKey[string(r.Key)], v)
	}
	blk := byKey["ip:203.0.113.7"]
	if len(blk) != 2 || blk[0].Action != eventpb.Action_BLOCK || blk[0].Origin != eventpb.Origin_OPERATOR ||
		blk[0].Reasons[0] != "operator: card testing" || blk[1] != nil {
		t.Fatalf("block then unblock: %v", blk)
	}
	if ttl := time.Duration(blk[0].ExpiresAtUnixNano - blk[0].AtUnixNano); ttl != 2*time.Hour {
		t.Fatalf("ttl %v", ttl)
	}
	allow := byKey["net:198.51.100.0/24"]
	if len(allow) != 1 || allow[0].Action != eventpb.Action_ALLOW ||
		time.Duration(allow[0].ExpiresAtUnixNano-allow[0].AtUnixNano) != 720*time.Hour {
		t.Fatalf("allow: %v", allow)
	}
	wide := byKey["net:10.0.0.0/8"]
	if len(wide) != 1 || len(wide[0].Reasons) != 2 || !strings.HasPrefix(wide[0].Reasons[1], "forced") {
		t.Fatalf("forced block: %v", wide)
	}
	if v6 := byKey["net:2001::/16"]; len(v6) != 1 || len(v6[0].Reasons) != 1 {
		t.Fatalf("block within a configured limit: %v", v6)
	}
}

func TestOverrideBadInput(t *testing.T) {
	// Nothing listens on the broker address: each is refused before Kafka.
	f := func(want string, args ...string) {
		t.Helper()
		_, err := runCLI(t, append([]string{"--brokers=127.0.0.1:1"}, args...)...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Fatalf("%.60q: %v, want a usage error", args, err)
		}
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%.60q: %v, want it to say %q", args, err, want)
		}
		if len(err.Error()) > 400 {
			t.Fatalf("%.60q: a %d-byte error", args, len(err.Error()))
		}
	}
	f("want ip:ADDR", "block", "not-a-subject")
	f("ttl must be positive", "block", "203.0.113.7", "--ttl", "-1h")
	f("invalid argument", "block", "203.0.113.7", "--ttl", "soon")
	f("want one SUBJECT", "block")
	f("want ip:ADDR", "unblock", "host:example.com")
	f("want one SUBJECT", "allow", "ip:1.2.3.4", "extra")
	f("an override must expire", "block", "203.0.113.7", "--ttl", "0")
	f("BULWARK_OVERRIDE_MAX_TTL", "block", "203.0.113.7", "--ttl", "1000000h")
	f("BULWARK_OVERRIDE_MAX_TTL", "allow", "203.0.113.7", "--ttl", "721h")
	f("--force", "block", "net:0.0.0.0/0")
	f("--force", "block", "0.0.0.0/0")
	f("--force", "block", "net:::/0")
	f("--force", "allow", "net:10.0.0.0/8")
	f("BULWARK_OVERRIDE_MAX_TTL", "block", "net:10.0.0.0/8", "--force", "--ttl", "1000000h")
	f("at most 256", "block", "session:"+strings.Repeat("a", 100<<10))
	f("visible ASCII", "block", "session:abc\ndef")
	f("visible ASCII", "unblock", "session:abc\ndef")
}

func TestOverrideLimitsFromEnv(t *testing.T) {
	t.Setenv("BULWARK_OVERRIDE_MAX_NET_V4", "40")
	_, err := runCLI(t, "--brokers=127.0.0.1:1", "block", "203.0.113.7")
	if err == nil || !strings.Contains(err.Error(), "BULWARK_OVERRIDE_MAX_NET_V4") {
		t.Fatalf("a bad limit: %v, want an error naming the variable", err)
	}
}
