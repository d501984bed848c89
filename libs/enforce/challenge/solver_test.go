package challenge

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// TestSolverAnswersServedPages: a page the handler serves, parsed and
// answered by the Go solver as a person's browser would, passes at every
// level; the same solver reporting an automated browser fails.
func TestSolverAnswersServedPages(t *testing.T) {
	human := BrowserReport{UserAgent: testUA, Languages: 2, Screen: [2]int{1280, 800}}
	ix := Interaction{Moves: []int{120, 181, 260, 402, 455}, Press: 930}
	for _, c := range []struct {
		name  string
		score float64
		level Level
		env   BrowserReport
		want  int
	}{
		{"light", 72, LevelLight, human, http.StatusSeeOther},
		{"hard", 82, LevelHard, human, http.StatusSeeOther},
		{"interactive", 87, LevelInteractive, human, http.StatusSeeOther},
		{"webdriver", 72, LevelLight, BrowserReport{WebDriver: true, UserAgent: testUA, Languages: 1, Screen: [2]int{800, 600}}, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, nil)
			fx.score = c.score
			w, _ := fx.page(t, "203.0.113.7", "/search?q=a&b=c")
			p, err := ParsePage(w.Body.Bytes())
			if err != nil {
				t.Fatalf("parse: %v\n%s", err, w.Body)
			}
			if p.Bits != c.level.Bits() || p.Interactive != c.level.Interactive() || p.Return != "/search?q=a&b=c" || len(p.Nonce) != 24 {
				t.Fatalf("parsed %+v", p)
			}
			fx.now = fx.now.Add(time.Second)
			w = fx.answer("203.0.113.7", testUA, p.Answer(c.env, ix))
			if w.Code != c.want {
				t.Fatalf("verify: %d, want %d\n%s", w.Code, c.want, w.Body)
			}
			if c.want == http.StatusSeeOther && fx.sink.last().Kind != eventpb.FeedbackKind_CHALLENGE_PASSED {
				t.Fatalf("feedback %v", fx.sink.last())
			}
		})
	}
}

func TestParsePageRefusesOtherPages(t *testing.T) {
	for _, body := range []string{"", "<html>shop</html>", `<form><input type="hidden" name="token" value="x"></form>`} {
		if _, err := ParsePage([]byte(body)); err != ErrNotChallenge {
			t.Errorf("%q: %v", body, err)
		}
	}
	// The failure page links to a new challenge but is not one.
	fx := newFixture(t, nil)
	w, p := fx.page(t, "203.0.113.7", "/")
	_ = w
	w = fx.answer("198.51.100.9", testUA, solved(p, "/"))
	if _, err := ParsePage(w.Body.Bytes()); err != ErrNotChallenge || !strings.Contains(w.Body.String(), PathChallenge) {
		t.Fatalf("failure page parsed: %v", err)
	}
}

// FuzzParsePage: any body is read without panicking, and what it yields
// is answered without panicking either.
func FuzzParsePage(f *testing.F) {
	fx := newFixture(f, nil)
	w, _ := fx.page(f, "203.0.113.7", "/cart")
	f.Add(w.Body.Bytes())
	f.Add([]byte(`name="token" value="a" name="return" value="/" var NONCE="ab",BITS=1,INTERACTIVE=true,WIDGET=false;`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePage(body)
		if err == nil && p.Bits <= 8 {
			_ = p.Answer(BrowserReport{}, Interaction{})
		}
	})
}
