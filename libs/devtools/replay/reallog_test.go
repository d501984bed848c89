package replay_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// A real 2015 blog log with real Baidu, Bing, msnbot and Yandex crawlers.
// Replayed without reverse DNS, none of them may be called fake: Baidu and
// Yandex can only be verified by reverse DNS, and Microsoft's list of this
// year says nothing about 2015. With reverse-DNS answers recorded live,
// they are verified.
func TestRealCrawlersAreNotFake(t *testing.T) {
	path := filepath.Join("..", "..", "..", "..", "shared", "data", "real-logs", "apache-combined-2015.log")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real log %s not found beside the repository", path)
	}
	crawlerUA := regexp.MustCompile(`(?i)baiduspider|bingbot|msnbot|yandexbot`)
	real := map[string]bool{}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if ip, _, ok := strings.Cut(sc.Text(), " "); ok && crawlerUA.MatchString(sc.Text()) {
			real[ip] = true
		}
	}
	f.Close()
	if len(real) < 50 {
		t.Fatalf("only %d crawler addresses in the log", len(real))
	}

	out, _ := run(t, replay.Config{Files: []string{path}, Format: logparse.FormatNginx})
	judged := verdicts(t, out)
	for ip := range real {
		for _, reasons := range judged["ip:"+ip] {
			if strings.Contains(reasons, "fake_crawler") {
				t.Errorf("real crawler %s called fake: %s", ip, reasons)
			}
		}
	}

	// 100.43.83.137 is YandexBot in the log; a live decider's answer verifies it.
	const yandex = "100.43.83.137"
	if len(judged["ip:"+yandex]) == 0 {
		t.Fatalf("%s has no verdict without a cache: the test proves nothing", yandex)
	}
	answers, err := crawlers.ReadAnswers(strings.NewReader(`{"format":"bulwark-rdns-cache/1","answers":[
		{"addr":"` + yandex + `","ptr":["spider-100-43-83-137.yandex.com"],"confirmed":["spider-100-43-83-137.yandex.com"],"at":"2015-05-17T10:00:00Z"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, _ = run(t, replay.Config{Files: []string{path}, Format: logparse.FormatNginx, RDNSCache: answers})
	if got := verdicts(t, out)["ip:"+yandex]; len(got) != 0 {
		t.Fatalf("verified by the cache, %s still got verdicts: %q", yandex, got)
	}
}

// verdicts returns the reasons of every verdict (not lifts) by subject.
func verdicts(t *testing.T, out []byte) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for line := range bytes.Lines(out) {
		sub, v, err := verdict.Unmarshal(line)
		if err != nil {
			t.Fatal(err)
		}
		if v != nil && verdict.ActionString(v.GetAction()) != "ALLOW" {
			m[sub] = append(m[sub], strings.Join(v.GetReasons(), ","))
		}
	}
	return m
}
