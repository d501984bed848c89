package botguard_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/enforce/botguard"
	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

func TestWithChallenges(t *testing.T) {
	const ua = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0"
	tb := verdicttable.New()
	keys := challenge.RandomKeys()
	peer := func(r *http.Request) netip.Addr { ap, _ := netip.ParseAddrPort(r.RemoteAddr); return ap.Addr() }
	pages, err := challenge.New(challenge.Options{
		Config: challenge.Config{ClearanceTTL: time.Hour, TokenTTL: time.Minute, Provider: "builtin", MinScore: 0.5, VerifyTimeout: time.Second, VerifyAttempts: 1},
		Keys:   keys, ClientIP: peer,
	})
	if err != nil {
		t.Fatal(err)
	}
	g, err := botguard.New(botguard.WithTable(tb), botguard.WithChallenges(pages))
	if err != nil {
		t.Fatal(err)
	}
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("app " + botguard.ActionFrom(r.Context()).String()))
	}))
	cookie := challenge.NewClearance(netip.MustParseAddr("192.0.2.1"), ua, challenge.LevelLight, [12]byte{}, time.Now(), time.Hour).Encode(keys)
	f := func(name string, v *eventpb.Verdict, path, cookie string, wantCode int, wantBody string) {
		t.Helper()
		if v != nil {
			_ = tb.Apply("ip:192.0.2.1", v)
		}
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = "192.0.2.1:4000"
		r.Header.Set("User-Agent", ua)
		if cookie != "" {
			r.Header.Set("Cookie", challenge.CookieName+"="+cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != wantCode || !strings.Contains(w.Body.String(), wantBody) {
			t.Errorf("%s: %d %.80q, want %d with %q", name, w.Code, w.Body.String(), wantCode, wantBody)
		}
	}
	f("allowed", nil, "/", "", 200, "app ALLOW")
	f("challenged", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 72}, "/cart", "", 403, `name="return" value="/cart"`)
	f("cleared", nil, "/cart", cookie, 200, "app ALLOW")
	f("forged", nil, "/cart", cookie[:len(cookie)-3]+"AAA", 403, "/.bulwark/verify")
	f("level too low", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE, Score: 88}, "/cart", cookie, 403, "/.bulwark/verify")
	f("pages served", nil, "/.bulwark/challenge?return=/x", "", 200, `value="/x"`)
	f("blocked despite clearance", &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 95}, "/cart", cookie, 403, "Access denied")
}
