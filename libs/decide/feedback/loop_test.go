package feedback_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/decide/feedback"
	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func run(t *testing.T, name string, f func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", name)
		}
	})
}

// authz asks the sidecar about the client, without any cookie.
func authz(t *testing.T, s *sidecar.Sidecar, ip string) int {
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/v1/authz", nil)
	req.Header.Set("X-Real-IP", ip)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	testkit.Eventually(t, within, what, cond)
	return time.Since(start)
}

// TestPassLiftsVerdict is the loop end to end on a real broker: the
// decider challenges a client, the client passes the sidecar's challenge,
// the pass is a feedback record, the decider lifts the CHALLENGE, and the
// sidecar answers ALLOW to the client even without its cookie: within 1 s.
func TestPassLiftsVerdict(t *testing.T) {
	br := kafkatest.Start(t)
	kcfg := kafkatest.Config(br)
	reg := prometheus.NewRegistry()

	dcfg := decider.DefaultConfig()
	dcfg.MetricsAddr, dcfg.Group, dcfg.ExpiryTick = "", "loop-test", 50*time.Millisecond
	dsvc, err := decider.NewService(dcfg, kcfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, "decider", dsvc.Run)

	scfg := sidecar.DefaultConfig()
	scfg.Addr, scfg.GRPCAddr = "127.0.0.1:0", "off"
	sc, err := sidecar.New(scfg, kcfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := feedback.NewPublisher(kcfg, "sidecar", nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close(context.Background()) })
	ccfg := challenge.Config{ClearanceTTL: time.Hour, TokenTTL: time.Minute, Provider: "builtin", MinScore: 0.5, VerifyTimeout: time.Second, VerifyAttempts: 1}
	if _, err := sc.EnableChallenges(ccfg, challenge.RandomKeys(), pub, reg); err != nil {
		t.Fatal(err)
	}
	run(t, "sidecar", sc.Run)
	<-sc.Ready()
	<-dsvc.Ready()

	// The aggregator's score that makes the decider challenge the client.
	cl := kafkatest.Client(t, br)
	score, _ := proto.Marshal(&eventpb.Score{Subject: "ip:203.0.113.7", TimeUnixNano: time.Now().UnixNano(), Score: 75,
		Reasons: []string{"rate_10s=12/s"}, Trigger: &eventpb.RequestEvent{ClientIp: "203.0.113.7", Method: "GET", Path: "/", UserAgent: browserUA}})
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: kcfg.Topics.Scores, Key: []byte("ip:203.0.113.7"), Value: score}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "CHALLENGE in the sidecar", func() bool { return authz(t, sc, "203.0.113.7") == http.StatusUnauthorized })

	// The visitor, sent by nginx to the sidecar's challenge page, passes.
	base := "http://" + sc.Addr()
	req, _ := http.NewRequest(http.MethodGet, base+challenge.PathChallenge+"?return=%2Fcart", nil)
	req.Header.Set("X-Real-IP", "203.0.113.7")
	req.Header.Set("User-Agent", browserUA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := answer(t, string(page))
	form.Set("return", "/cart")
	req, _ = http.NewRequest(http.MethodPost, base+challenge.PathVerify, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Real-IP", "203.0.113.7")
	req.Header.Set("User-Agent", browserUA)
	resp, err = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("verify: %d", resp.StatusCode)
	}
	took := waitFor(t, time.Second, "the pass lifting the verdict in the sidecar", func() bool {
		return authz(t, sc, "203.0.113.7") == http.StatusNoContent
	})
	t.Logf("pass to lifted verdict in the sidecar: %s", took.Round(time.Millisecond))

	recs := kafkatest.ReadAll(t, br, kcfg.Topics.Feedback, 2, 10*time.Second)
	kinds := map[eventpb.FeedbackKind]int{}
	for _, r := range recs {
		var f eventpb.Feedback
		if err := proto.Unmarshal(r.Value, &f); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != "ip:203.0.113.7" || f.GetSubject() != "ip:203.0.113.7" {
			t.Fatalf("record keyed %q: %v", r.Key, &f)
		}
		kinds[f.GetKind()]++
	}
	if kinds[eventpb.FeedbackKind_CHALLENGE_ISSUED] != 1 || kinds[eventpb.FeedbackKind_CHALLENGE_PASSED] != 1 {
		t.Fatalf("feedback records %v", kinds)
	}
}

var (
	tokenRe = regexp.MustCompile(`name="token" value="([^"]+)"`)
	nonceRe = regexp.MustCompile(`var NONCE="([0-9a-f]+)",BITS=(\d+)`)
)

// answer solves a challenge page the way its script does.
func answer(t *testing.T, page string) url.Values {
	t.Helper()
	tok, nm := tokenRe.FindStringSubmatch(page), nonceRe.FindStringSubmatch(page)
	if tok == nil || nm == nil {
		t.Fatalf("no challenge on the page:\n%s", page)
	}
	var want int
	fmt.Sscan(nm[2], &want)
	var n uint64
	for ; ; n++ {
		h := sha256.Sum256(fmt.Appendf(nil, "%s:%d", nm[1], n))
		z := 0
		for _, b := range h {
			z += bits.LeadingZeros8(b)
			if b != 0 {
				break
			}
		}
		if z >= want {
			break
		}
	}
	return url.Values{"token": {strings.ReplaceAll(tok[1], "&#43;", "+")}, "counter": {fmt.Sprint(n)},
		"env": {`{"wd":false,"ua":"` + browserUA + `","langs":2,"scr":[1280,800],"missing":[]}`}}
}
