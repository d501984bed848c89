package replay_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
)

// webbot is the excerpt of the Web Bot Detection Dataset (an anonymised
// log with session ids; training/testdata/webbot/README.md).
var webbot = filepath.Join("..", "training", "testdata", "webbot")

func webbotReplay(t *testing.T, labelsFile string) replay.Config {
	t.Helper()
	fh, err := os.Open(filepath.Join(webbot, labelsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	labels, err := simulate.ParseLabels(fh)
	if err != nil {
		t.Fatal(err)
	}
	return replay.Config{
		Files:  []string{filepath.Join(webbot, "bots.log"), filepath.Join(webbot, "humans.log")},
		Format: logparse.FormatApache,
		ParseOptions: logparse.Options{
			LogFormat:    `%h %l %t "%r" %>s %b "%{Referer}i" %{SESSION_ID}e "%{User-Agent}i"`,
			SessionField: "SESSION_ID",
		},
		Labels: labels,
	}
}

// With labels of sessions the evaluation is per session of the log: an
// anonymised log is replayed (lines without a session are no_client dead
// letters), and a session counts as flagged when a verdict named it.
func TestReplayEvaluatesSessions(t *testing.T) {
	cfg := webbotReplay(t, "train-labels.txt")
	cfg.Labels["session:neverseen"] = simulate.Label{Label: "human", Kind: "human"}
	res, err := replay.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 272 || res.Bad["no_client"] != 8 {
		t.Fatalf("%d events, bad %v: want 272 events and 8 no_client", res.Events, res.Bad)
	}
	ev := res.Evaluation
	if ev == nil || ev.Subjects != "session" || ev.LabelledUnseen != 1 {
		t.Fatalf("evaluation %+v: want one per session", ev)
	}
	clients := map[string]int{}
	for _, k := range ev.Kinds {
		clients[k.Kind] = k.Clients
	}
	if clients["advanced_bot"] != 2 || clients["moderate_bot"] != 2 || clients["human"] != 3 || ev.Unlabelled != 1 {
		t.Fatalf("kinds %+v, %d unlabelled: want 2 advanced, 2 moderate, 3 humans and the test session", ev.Kinds, ev.Unlabelled)
	}

	// A model file that flags every session it scores (one leaf, p = 0.998):
	// every labelled session is flagged, by a verdict on its session: subject.
	path := filepath.Join(t.TempDir(), "all.json")
	if err := model.Save(path, &model.File{Format: model.Format, ID: "gbdt-all", Kind: "gbdt", Threshold: 0.5,
		Subjects: []string{model.SubjectSession}, Trees: []model.Tree{{Nodes: []model.Node{{Feature: -1, Value: 6.2}}}}}); err != nil {
		t.Fatal(err)
	}
	cfg.Model, cfg.ModelMode = path, model.Replace
	res, err = replay.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev = res.Evaluation
	if ev.Recall != 1 || ev.HumanFPRate != 1 || ev.UnlabelledFlagged != 1 {
		t.Fatalf("with a model flagging every session: recall %v, human FP %v, unlabelled flagged %d", ev.Recall, ev.HumanFPRate, ev.UnlabelledFlagged)
	}
	var b strings.Builder
	if err := ev.WriteReport(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "(sessions)") || !strings.Contains(b.String(), "1 sessions not in the labels file (1 flagged)") {
		t.Fatalf("report:\n%s", b.String())
	}
}
