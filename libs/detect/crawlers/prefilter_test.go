package crawlers

import (
	"slices"
	"testing"
)

func TestRequiredLiterals(t *testing.T) {
	for pattern, want := range map[string][]string{
		`(?i)gptbot`:                          {"gptbot"},
		`(?i)googlebot|google-inspectiontool`: {"google"}, // the parser factors the prefix out
		`(?i)yandex(bot|images)`:              {"yandex"},
		`(?i)\byeti/`:                         {"yeti/"},
		`(?i)^whatsapp/`:                      {"whatsapp/"},
		`(?i)sogou (web|pic) ?spider|sogou-test-spider`: {"spider", "-test-spider"},
		`PartnerBot/`: {"partnerbot/"},
		`(?i)bot|.*x`: {"bot", "x"},
		`(?i)bot|.*`:  nil, // an alternative needs nothing
		`[a-z]+`:      nil,
	} {
		if got := requiredLiterals(pattern); !slices.Equal(got, want) {
			t.Errorf("requiredLiterals(%q) = %q, want %q", pattern, got, want)
		}
	}
	// Every shipped bot is prefiltered: none runs its pattern on every User-Agent.
	for _, e := range BuiltinDirectory().Bots {
		if e.UserAgent != "" && requiredLiterals(e.UserAgent) == nil {
			t.Errorf("%s: no literal for %q", e.Name, e.UserAgent)
		}
	}
}
