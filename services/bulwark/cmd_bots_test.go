package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

func TestBotsList(t *testing.T) {
	out, err := runCLI(t, "bots")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"googlebot", "gptbot", "ai-training", "ranges+rdns", "declared", "https://platform.openai.com/docs/bots"} {
		if !strings.Contains(out, want) {
			t.Errorf("bots lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(t, "bots", "--category", "seo", "--json")
	if err != nil || strings.Contains(out, "googlebot") || !strings.Contains(out, `"name":"ahrefsbot"`) {
		t.Fatalf("bots --category seo --json: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"bots", "--category", "evil"}, {"bots", "update"}, {"bots", "--directory", "/no/such/dir"}} {
		var ue usageError
		if _, err := runCLI(t, args...); !errors.As(err, &ue) {
			t.Errorf("bulwark %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}

func TestBotsUpdate(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dir := "version: 1\nbots:\n  - {name: gptbot, operator: OpenAI, category: ai-training, user_agent: '(?i)gptbot', ranges_url: " +
			srv.URL + "/gptbot.json, source: https://platform.openai.com/docs/bots}\n"
		switch r.URL.Path {
		case "/bots.yaml":
			_, _ = w.Write([]byte(dir))
		case "/bots.yaml.sha256":
			sum := sha256.Sum256([]byte(dir))
			_, _ = w.Write([]byte(hex.EncodeToString(sum[:])))
		case "/gptbot.json":
			_, _ = w.Write([]byte(`{"creationTime":"2026-11-20T00:00:00Z","prefixes":[{"ipv4Prefix":"192.0.2.0/28"}]}`))
		}
	}))
	defer srv.Close()
	out := t.TempDir()
	got, err := runCLI(t, "bots", "update", "--url", srv.URL+"/bots.yaml", "--output", out)
	if err != nil || !strings.Contains(got, "gptbot: 1 prefixes") {
		t.Fatalf("bots update: %v\n%s", err, got)
	}
	// A rule file pointing at it loads, and lists what it holds.
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte("crawlers:\n  directory: "+out+"\nbots:\n  bots:\n    gptbot: block\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := runCLI(t, "rules", "check", rulesFile); err != nil {
		t.Fatalf("rules check: %v\n%s", err, got)
	}
	if got, err := runCLI(t, "bots", "--directory", out); err != nil || !strings.Contains(got, "gptbot") || strings.Contains(got, "googlebot") {
		t.Fatalf("bots --directory: %v\n%s", err, got)
	}
}

type ptrResolver struct{}

func (ptrResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	if addr == "203.0.113.10" {
		return []string{"crawl-203-0-113-10.googlebot.com."}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

func (ptrResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if host == "crawl-203-0-113-10.googlebot.com" {
		return []netip.Addr{netip.MustParseAddr("203.0.113.10")}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// The live decider's answers, exported, verify the same client in replay.
func TestBotsExportCache(t *testing.T) {
	d, err := decider.New(rules.Default(), decider.Options{Resolver: ptrResolver{}, SyncCrawlerChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	d.Decide(context.Background(), &eventpb.Score{Subject: "ip:203.0.113.10", Score: 99, TimeUnixNano: time.Now().UnixNano(),
		Trigger: &eventpb.RequestEvent{ClientIp: "203.0.113.10", UserAgent: "Mozilla/5.0 (compatible; Googlebot/2.1)"}})
	srv := httptest.NewServer(decider.RDNSCacheHandler(d))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "rdns.json")
	if got, err := runCLI(t, "bots", "export-cache", "--decider", srv.URL, "--output", file); err != nil {
		t.Fatalf("export-cache: %v\n%s", err, got)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	answers, err := crawlers.ReadAnswers(f)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := answers.Get(netip.MustParseAddr("203.0.113.10")); !ok || len(a.Confirmed) != 1 {
		t.Fatalf("exported answer %+v %v", a, ok)
	}
	if _, err := runCLI(t, "bots", "export-cache", "--decider", "http://127.0.0.1:1"); err == nil {
		t.Fatal("export from nowhere succeeded")
	}
}
