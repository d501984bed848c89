package aggregator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// sessionRefererModel is refererModel trained on sessions: its file says
// it scores session: subjects.
func sessionRefererModel(t testing.TB, kinds ...string) *model.Holder {
	t.Helper()
	m, err := model.Compile(&model.File{Format: model.Format, ID: "gbdt-sess", Kind: "gbdt", Threshold: 0.7,
		Features: []string{"referer_missing_share_10m"}, Subjects: kinds,
		Trees: []model.Tree{{Nodes: []model.Node{
			{Feature: 0, Threshold: 0.5, MissingLeft: true, Left: 1},
			{Feature: -1, Value: -6.2},
			{Feature: -1, Value: 6.2},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := model.NewActive(m, model.Replace, 0)
	if err != nil {
		t.Fatal(err)
	}
	return model.NewHolder(a)
}

// A model trained on sessions scores the log's sessions (anonymised events
// included) and nothing else: not addresses, not derived sessions.
func TestSessionModelScoresLogSessionsOnly(t *testing.T) {
	base := time.Date(2019, 11, 1, 10, 0, 0, 0, time.UTC)
	var evs []*eventpb.RequestEvent
	for i := range 80 {
		at := base.Add(time.Duration(i) * 7 * time.Second).UnixNano()
		evs = append(evs,
			// an anonymised quiet bot: no referer, a session id from the log
			&eventpb.RequestEvent{TimeUnixNano: at, Method: "GET", Path: fmt.Sprintf("/product/%d", i), Status: 200,
				UserAgent: chromeUA, SessionId: "botsession1"},
			// a client with an address and no session id: only derived sessions
			&eventpb.RequestEvent{TimeUnixNano: at + 1, ClientIp: "203.0.113.9", Method: "GET", Path: fmt.Sprintf("/product/%d", i),
				Status: 200, UserAgent: chromeUA})
	}
	scores := runAll(evs, WithModel(sessionRefererModel(t, model.SubjectSession)))
	best := map[string]float64{}
	for _, s := range scores {
		best[s.Subject] = max(best[s.Subject], s.Score)
		scored := s.ModelScore != nil
		switch {
		case s.Subject == "session:botsession1":
			if !scored {
				t.Fatalf("%s: the log's session was not scored by the session model", s.Subject)
			}
		case scored:
			t.Fatalf("%s: scored by a model trained on log sessions", s.Subject)
		}
	}
	if best["session:botsession1"] < 99 {
		t.Errorf("the anonymised bot's session scored %.1f, want the model's 99+", best["session:botsession1"])
	}
	for s, v := range best {
		if strings.HasPrefix(s, "ip:") && v >= 99 {
			t.Errorf("%s scored %.1f: the session model acted on an address", s, v)
		}
	}
}

func TestModelFileSubjects(t *testing.T) {
	f := func(kinds []string, ip, session bool) {
		t.Helper()
		a := sessionRefererModel(t, kinds...).Load().Model
		if a.ScoresIPs() != ip || a.ScoresSessions() != session {
			t.Errorf("subjects %v: ip %v session %v, want %v %v", kinds, a.ScoresIPs(), a.ScoresSessions(), ip, session)
		}
	}
	f(nil, true, false) // files from before sessions: addresses
	f([]string{"ip"}, true, false)
	f([]string{"session"}, false, true)
	f([]string{"ip", "session"}, true, true)
	_, err := model.Compile(&model.File{Format: model.Format, Kind: "gbdt", Threshold: 0.5, Subjects: []string{"net"},
		Trees: []model.Tree{{Nodes: []model.Node{{Feature: -1}}}}})
	if err == nil || !strings.Contains(err.Error(), `subjects: "net"`) {
		t.Errorf("a file naming net subjects: %v", err)
	}
}
