package main

import (
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// TestFingerprintOverrides: a fingerprint may be allowed and unblocked,
// never blocked, challenged or labelled a bot from the CLI; the refusal says
// how to act on one.
func TestFingerprintOverrides(t *testing.T) {
	b := kafkatest.Start(t)
	brokers := "--brokers=" + b.Addr()
	const fp = "fp:02f1bea35578836f"
	for _, args := range [][]string{
		{"block", fp, "--ttl", "1h"},
		{"challenge", fp, "--ttl", "1h"},
		{"label", fp, "bot"},
	} {
		if _, err := runCLI(t, append([]string{brokers}, args...)...); err == nil || !strings.Contains(err.Error(), "bulwark attack start CLASS --fingerprint "+fp) {
			t.Errorf("%v: %v", args, err)
		}
	}
	out, err := runCLI(t, brokers, "allow", fp, "--ttl", "1h", "--reason", "our own app")
	if err != nil || !strings.Contains(out, `"subject":"fp:02f1bea35578836f","action":"ALLOW"`) {
		t.Fatalf("allow: %v %s", err, out)
	}
	if _, err := runCLI(t, brokers, "unblock", fp); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, brokers, "label", fp, "human", "--reason", "a school's laptops"); err != nil {
		t.Fatal(err)
	}
}
