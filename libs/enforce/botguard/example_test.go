package botguard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/bulwarkhq/bulwark/libs/enforce/botguard"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

// An application embedding the verdict table. In production the table
// follows the verdict topic (verdicttable.Follow); here it is filled by hand.
func Example() {
	t := verdicttable.New()
	_ = t.Apply("ip:203.0.113.7", &eventpb.Verdict{Action: eventpb.Action_BLOCK})
	_ = t.Apply("net:198.51.100.0/24", &eventpb.Verdict{Action: eventpb.Action_CHALLENGE})

	g, err := botguard.New(botguard.WithTable(t), botguard.WithTrustedProxies("X-Real-IP", "127.0.0.1"))
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello (%s)", verdict.ActionString(botguard.ActionFrom(r.Context())))
	})
	h := g.Middleware(app)

	for _, client := range []string{"192.0.2.1", "203.0.113.7", "198.51.100.9"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "127.0.0.1:40000" // a proxy on this host
		req.Header.Set("X-Real-IP", client)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(client, rec.Code, rec.Body.String())
	}
	// Output:
	// 192.0.2.1 200 hello (ALLOW)
	// 203.0.113.7 403 Access denied.
	//
	// 198.51.100.9 401 Please confirm you are human.
}
