package aggregator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Events of an anonymised log (no client address, the log's session id) are
// scored under their session: subject only; a fast scraper session is
// still caught, and an event with neither address nor session is refused.
func TestAnonymisedEventsScoreSessionsOnly(t *testing.T) {
	e := NewEngine(testConfig())
	base := time.Date(2019, 11, 1, 10, 0, 0, 0, time.UTC)
	var scores []*eventpb.Score
	for i := range 400 {
		ev := &eventpb.RequestEvent{
			TimeUnixNano: base.Add(time.Duration(i) * 100 * time.Millisecond).UnixNano(),
			Method:       "GET", Path: fmt.Sprintf("/product/%d", i), Protocol: "HTTP/1.1", Status: 200,
			UserAgent: "python-requests/2.31", SessionId: "97hf7ciplt2k54f5j6109nekn0",
		}
		scores = e.Process(ev, scores)
	}
	best := 0.0
	for _, s := range scores {
		if !strings.HasPrefix(s.Subject, "session:") {
			t.Fatalf("an anonymised event gave a score for %s", s.Subject)
		}
		if s.Subject != "session:97hf7ciplt2k54f5j6109nekn0" {
			t.Fatalf("subject %s, want the log's session id", s.Subject)
		}
		best = max(best, s.Score)
	}
	if best < 70 {
		t.Errorf("a scraper session of 400 requests at 10/s scored at most %.1f, want >= 70", best)
	}
	st := e.Stats()
	if st.IPs != 0 || st.Nets != 0 || st.Sessions != 1 {
		t.Errorf("state: %d ips, %d nets, %d sessions; want 0, 0, 1", st.IPs, st.Nets, st.Sessions)
	}
	before := e.Stats().BadEvents
	e.Process(&eventpb.RequestEvent{TimeUnixNano: base.Add(time.Hour).UnixNano(), Method: "GET", Path: "/"}, nil)
	if e.Stats().BadEvents != before+1 {
		t.Errorf("an event with neither address nor session was not counted as bad")
	}
}
