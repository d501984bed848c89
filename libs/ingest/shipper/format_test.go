package shipper_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func TestConfigParseOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mod     func(*shipper.Config)
		wantVar string // "" = valid
	}{
		{"custom nginx", func(c *shipper.Config) {
			c.LogFormat = `$host $remote_addr [$time_local] "$request" $status "$sid"`
			c.SessionField = "sid"
		}, ""},
		{"apache default", func(c *shipper.Config) { c.Format = "apache" }, ""},
		{"json mapping", func(c *shipper.Config) { c.Format = "nginx-json"; c.JSONFields = "remote_addr=client" }, ""},
		{"format without time", func(c *shipper.Config) { c.LogFormat = `$remote_addr $status` }, "BULWARK_SHIPPER_LOG_FORMAT"},
		{"apache bad directive", func(c *shipper.Config) { c.Format = "apache"; c.LogFormat = `%h %t %Z` }, "BULWARK_SHIPPER_LOG_FORMAT"},
		{"bad mapping", func(c *shipper.Config) { c.Format = "nginx-json"; c.JSONFields = "remote_addr" }, "BULWARK_SHIPPER_JSON_FIELDS"},
		{"mapping for a text format", func(c *shipper.Config) { c.JSONFields = "remote_addr=ip" }, "BULWARK_SHIPPER_JSON_FIELDS"},
		{"cookie on combined", func(c *shipper.Config) { c.SessionCookie = "sid" }, "BULWARK_SHIPPER_SESSION_COOKIE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig("x.log")
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.wantVar == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantVar != "" && (err == nil || !strings.Contains(err.Error(), tc.wantVar)):
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.wantVar)
			}
		})
	}
}

// TestShipCustomFormat ships a log in a site's own format (session id after
// the referer) and finds the session ids in the published events.
func TestShipCustomFormat(t *testing.T) {
	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	path := filepath.Join(t.TempDir(), "access.log")
	var sb strings.Builder
	for i := range 300 {
		fmt.Fprintf(&sb, `shop.example 198.51.100.%d - - [21/Nov/2026:10:00:%02d +0000] "GET /product/%d HTTP/1.1" 200 512 0.012 "-" "sess-%d" "Mozilla/5.0"`+"\n", i%250+1, i%60, i, i%7)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(path)
	cfg.Follow = false
	cfg.LogFormat = `$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time "$http_referer" "$sid" "$http_user_agent"`
	cfg.SessionField = "sid"
	s, err := shipper.New(cfg, kcfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sum := s.Summary(); sum.Shipped != 300 || sum.Rejected != 0 {
		t.Fatalf("summary %+v, want 300 shipped", sum)
	}
	recs := kafkatest.ReadAll(t, b, kcfg.Topics.Requests, 300, 30*time.Second)
	if len(recs) != 300 {
		t.Fatalf("received %d events, want 300", len(recs))
	}
	for _, r := range recs {
		var ev eventpb.RequestEvent
		if err := proto.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ev.SessionId, "sess-") || ev.Host != "shop.example" || ev.RequestTimeSeconds == nil {
			t.Fatalf("event %v lacks the custom fields", &ev)
		}
	}
}
