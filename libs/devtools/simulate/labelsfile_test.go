package simulate_test

import (
	"os"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
)

func TestParseLabels(t *testing.T) {
	f := func(name, in string, want map[string]simulate.Label) {
		t.Helper()
		got, err := simulate.ParseLabels(strings.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: got %v, want %v", name, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %+v, want %+v", name, k, got[k], v)
			}
		}
	}
	f("json", `{"203.0.113.7": {"label":"bot","kind":"scraper_fast"}}`,
		map[string]simulate.Label{"203.0.113.7": {Label: "bot", Kind: "scraper_fast"}})
	f("text as the dataset gives it, no final newline",
		"dr09rk5eagjuu87gedvdqmq3gl human\n# a comment\n\nqqvn22bkui88d086v1pnp37cus advanced_bot\r\nx1 moderate_bot",
		map[string]simulate.Label{
			"session:dr09rk5eagjuu87gedvdqmq3gl": {Label: "human", Kind: "human"},
			"session:qqvn22bkui88d086v1pnp37cus": {Label: "bot", Kind: "advanced_bot"},
			"session:x1":                         {Label: "bot", Kind: "moderate_bot"},
		})
	f("subjects and addresses", "ip:203.0.113.7 bot\n::ffff:198.51.100.1 human\nsession:s-1 verified_crawler\n",
		map[string]simulate.Label{
			"203.0.113.7":  {Label: "bot", Kind: "bot"},
			"198.51.100.1": {Label: "human", Kind: "human"},
			"session:s-1":  {Label: "verified_crawler", Kind: "verified_crawler"},
		})
	f("empty", "", map[string]simulate.Label{})
}

func TestParseLabelsJunk(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		_, err := simulate.ParseLabels(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseLabels(%q) = %v, want an error with %q", in, err, want)
		}
	}
	f("a human\nb advanced_botc human\n", "labels line 2: want SUBJECT LABEL, got 3 fields (two records glued together without a newline?)")
	f("a human\nb\n", "labels line 2: want SUBJECT LABEL, got 1 fields")
	f("a person\n", `labels line 1: label "person": want human, bot, verified_crawler or NAME_bot`)
	f("a _bot\n", `label "_bot"`)
	f("net:10.0.0.0/24 bot\n", "only addresses and sessions are labelled")
	f("a human\na moderate_bot\n", "labels line 2: a is labelled again")
	f("{\"a\": ", "read labels")
}

// The dataset excerpt's annotation files read as they are.
func TestParseLabelsDatasetFiles(t *testing.T) {
	for _, name := range []string{"train-labels.txt", "test-labels.txt"} {
		fh, err := os.Open("../training/testdata/webbot/" + name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := simulate.ParseLabels(fh)
		fh.Close()
		if err != nil || len(m) == 0 {
			t.Fatalf("%s: %v, %d labels", name, err, len(m))
		}
	}
}
