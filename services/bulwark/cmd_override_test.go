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
	if _, err := runCLI(t, brokers, "allow", "net:198.51.100.9/24", "--ttl", "0"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, brokers, "unblock", "ip:203.0.113.7"); err != nil {
		t.Fatal(err)
	}

	recs := kafkatest.ReadAll(t, b, "bulwark.verdicts.v1", 3, 30*time.Second)
	if len(recs) != 3 {
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
	if len(allow) != 1 || allow[0].Action != eventpb.Action_ALLOW || allow[0].ExpiresAtUnixNano != 0 {
		t.Fatalf("allow: %v", allow)
	}
}

func TestOverrideBadInput(t *testing.T) {
	f := func(args ...string) {
		t.Helper()
		_, err := runCLI(t, append([]string{"--brokers=127.0.0.1:1"}, args...)...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Fatalf("%v: %v, want a usage error", args, err)
		}
	}
	f("block", "not-a-subject")
	f("block", "203.0.113.7", "--ttl", "-1h")
	f("block", "203.0.113.7", "--ttl", "soon")
	f("block")
	f("unblock", "host:example.com")
	f("allow", "ip:1.2.3.4", "extra")
}
