package chsink

import (
	"fmt"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/robots"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// botClassifier names the bot a request's User-Agent declares (the bot
// directory's name and category) for the requests table's bot columns.
// It is the claim, not its verification: the decider verifies, and its
// verdicts say "status=impostor" for a false one.
type botClassifier struct {
	v      *crawlers.Verifier
	robots *robots.Set
}

func newBotClassifier(directory string, rs *robots.Set) (*botClassifier, error) {
	d, err := crawlers.LoadDirectory(directory)
	if err != nil {
		return nil, err
	}
	cs, err := d.Crawlers()
	if err != nil {
		return nil, err
	}
	// The verifier's matcher caches by User-Agent and tests every pattern in
	// one pass; nothing of it but Claimed is used here.
	v, err := crawlers.New(crawlers.Config{Crawlers: cs}, nil, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("bot directory %s: %w", directory, err)
	}
	return &botClassifier{v: v, robots: rs}, nil
}

// classify returns the declared bot's name and category ("", "" for none)
// and whether the site's robots.txt forbids it the request's path.
func (b *botClassifier) classify(e *eventpb.RequestEvent) (name, category string, disallowed bool) {
	if b == nil {
		return "", "", false
	}
	i := b.v.Claimed(e.GetUserAgent())
	if i < 0 {
		return "", "", false
	}
	c := b.v.Crawlers()[i]
	path := e.GetPath()
	if q := e.GetQuery(); q != "" {
		path += "?" + q
	}
	return c.Name, c.Category, b.robots.Disallowed(e.GetHost(), c.RobotsToken, path)
}
