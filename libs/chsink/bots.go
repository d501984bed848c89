package chsink

import (
	"fmt"

	"github.com/bulwarkhq/bulwark/libs/crawlers"
)

// botClassifier names the bot a request's User-Agent declares (the bot
// directory's name and category) for the requests table's bot columns.
// It is the claim, not its verification: the decider verifies, and its
// verdicts say "status=impostor" for a false one.
type botClassifier struct {
	v *crawlers.Verifier
}

func newBotClassifier(directory string) (*botClassifier, error) {
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
	return &botClassifier{v: v}, nil
}

// classify returns the declared bot's name and category ("", "" for none).
func (b *botClassifier) classify(ua string) (name, category string) {
	if b == nil {
		return "", ""
	}
	i := b.v.Claimed(ua)
	if i < 0 {
		return "", ""
	}
	c := b.v.Crawlers()[i]
	return c.Name, c.Category
}
