package gate

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// TestFingerprintVerdict: the gate blocks the addresses an fp: verdict
// lists (the 403 page), proxies any other, and lets them through once the
// fingerprint is allowed by an operator.
func TestFingerprintVerdict(t *testing.T) {
	fx := startGate(t, upstream, func(c *Config) { c.TrustedProxies = "127.0.0.0/8" })
	const fp = "fp:02f1bea35578836f"
	if err := fx.table.Apply(fp, &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 92, Rule: "ladder",
		Reasons: []string{"attack=login-failures-2026-12-03T10:14Z"}, Addresses: []string{"203.0.113.7"}}); err != nil {
		t.Fatal(err)
	}
	hdr := func(ip string) map[string]string {
		return map[string]string{"X-Forwarded-For": ip, "User-Agent": browserUA, "Accept": "text/html"}
	}
	if resp, body := get(t, fx.url+"/login", hdr("203.0.113.7")); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "upstream") {
		t.Fatalf("listed address: %d %.200s", resp.StatusCode, body)
	}
	if resp, body := get(t, fx.url+"/login", hdr("203.0.113.8")); resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "upstream GET /login") {
		t.Fatalf("other address: %d %.200s", resp.StatusCode, body)
	}
	if err := fx.table.Apply(fp, &eventpb.Verdict{Action: eventpb.Action_ALLOW, Origin: eventpb.Origin_OPERATOR}); err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, fx.url+"/login", hdr("203.0.113.7")); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the fingerprint's ALLOW: %d %.200s", resp.StatusCode, body)
	}
}
