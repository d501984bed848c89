package aggregator

import (
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// A session id from a log that no entry point would accept (too long, with
// spaces or newlines) still names one session, under a subject that parses.
func TestSessionIDFromLogIsAValidSubject(t *testing.T) {
	for _, id := range []string{"abc123", strings.Repeat("c", 4096), "a b", "x\ny"} {
		ev := &eventpb.RequestEvent{ClientIp: "203.0.113.7", SessionId: id}
		got := SessionID(ev)
		if _, err := subject.Parse(subject.Session(got)); err != nil {
			t.Errorf("SessionID(%.20q) = %.40q: %v", id, got, err)
		}
		if subject.ValidateSession(id) == nil && got != id {
			t.Errorf("a valid id %q was changed to %q", id, got)
		}
		if again := SessionID(&eventpb.RequestEvent{ClientIp: "198.51.100.1", SessionId: id}); again != got {
			t.Errorf("the same session id from another IP gives %q and %q", got, again)
		}
	}
}
