package rules_test

import (
	"testing"

	"github.com/bulwarkhq/bulwark/libs/detect/rules"
)

func TestIsEmpty(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", true},
		{"  \n\t\n", true},
		{"# only a comment\n", true},
		{"---\n", true},
		{"---\n# header of a file being written\n", true},
		{"~\n", true},
		{"{}\n", false},
		{"version: 1\n", false},
		{"ladder: {block: 95}\n", false},
		{"{{{", false}, // broken, not empty: Parse reports it
	} {
		if got := rules.IsEmpty([]byte(tc.in)); got != tc.want {
			t.Errorf("IsEmpty(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	// What the reloader relies on: an empty file parses (as the default),
	// so only IsEmpty can tell it from an operator's file.
	if _, err := rules.Parse(nil, "empty"); err != nil {
		t.Fatalf("an empty file does not parse: %v", err)
	}
}
