package replay_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
)

// Impostors of directory bots that can be checked (published ranges or
// reverse DNS) are caught on a seed no rule was tuned on, given the
// reverse-DNS answers a live decider would have cached; real crawlers are
// never challenged or blocked, with the answers or without.
func TestBotImpostorsUnseenSeed(t *testing.T) {
	cfg := simulate.DefaultConfig()
	cfg.Seed = 31
	cfg.Duration = time.Hour
	cfg.Bots[simulate.BotImpostor] = 40
	cfg.Bots[simulate.CrawlerRDNS] = 10
	g, err := simulate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "access.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := simulate.Write(context.Background(), g, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	byKind := func(ev *replay.Evaluation) map[string]replay.KindEval {
		m := map[string]replay.KindEval{}
		for _, k := range ev.Kinds {
			m[k.Kind] = k
		}
		return m
	}

	_, res := run(t, replay.Config{Files: []string{path}, Format: logparse.FormatNginx, Labels: g.Labels(),
		RDNSCache: crawlers.NewAnswers(g.RDNSAnswers())})
	kinds := byKind(res.Evaluation)
	imp := kinds[string(simulate.BotImpostor)]
	if imp.Clients < 20 || imp.Rate < replay.TargetRecall {
		t.Errorf("impostors: %d clients, recall %.3f, want >= %.2f", imp.Clients, imp.Rate, replay.TargetRecall)
	}
	for _, k := range []simulate.Kind{simulate.CrawlerGoogle, simulate.CrawlerBing, simulate.CrawlerRDNS} {
		if c := kinds[string(k)]; c.Clients == 0 || c.Flagged != 0 {
			t.Errorf("%s with the rDNS cache: %d of %d flagged", k, c.Flagged, c.Clients)
		}
	}
	t.Logf("with the rDNS cache: impostors %d/%d caught", imp.Flagged, imp.Clients)

	// Without the answers, crawlers only reverse DNS verifies are
	// unverifiable: never called fake, and their score alone does not
	// challenge them.
	_, res = run(t, replay.Config{Files: []string{path}, Format: logparse.FormatNginx, Labels: g.Labels()})
	if c := byKind(res.Evaluation)[string(simulate.CrawlerRDNS)]; c.Flagged != 0 {
		t.Errorf("crawler_rdns without the rDNS cache: %d of %d flagged", c.Flagged, c.Clients)
	}
}
