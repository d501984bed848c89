package challenge

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// browserEnv is what the page reports about the browser it runs in.
type browserEnv struct {
	WebDriver bool     `json:"wd"`
	UA        string   `json:"ua"`
	Languages int      `json:"langs"`
	Screen    [2]int   `json:"scr"`
	Missing   []string `json:"missing"`
}

// interaction is what the page recorded on the interactive level: times in
// milliseconds since the page started, of pointer moves over the page, of
// the button's activation, and how long a key was held to press it.
type interaction struct {
	Moves   []float64 `json:"moves"`
	Press   float64   `json:"press"`
	KeyHold float64   `json:"keyhold"`
}

// headlessMarkers are user-agent substrings of automation builds.
var headlessMarkers = []string{"HeadlessChrome", "PhantomJS", "Headless", "Electron/", "puppeteer", "Playwright"}

func check(name string, ok bool, detail string) *eventpb.CheckOutcome {
	return &eventpb.CheckOutcome{Name: name, Passed: ok, Detail: detail}
}

// envChecks scores the browser environment: an automation flag, a headless
// build, a user agent other than the request's, or APIs every browser a
// person uses has. Each is one outcome; any failure fails the challenge.
func envChecks(raw, headerUA string) []*eventpb.CheckOutcome {
	var e browserEnv
	if raw == "" {
		return []*eventpb.CheckOutcome{check("environment", false, "the page sent no browser report (JavaScript did not run)")}
	}
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return []*eventpb.CheckOutcome{check("environment", false, "unreadable browser report: "+err.Error())}
	}
	out := []*eventpb.CheckOutcome{
		check("webdriver", !e.WebDriver, map[bool]string{true: "navigator.webdriver is set (browser under automation)"}[e.WebDriver]),
	}
	marker := ""
	for _, m := range headlessMarkers {
		if strings.Contains(headerUA, m) || strings.Contains(e.UA, m) {
			marker = m
			break
		}
	}
	out = append(out, check("headless", marker == "", map[bool]string{true: "user agent names " + marker}[marker != ""]))
	out = append(out, check("user_agent", e.UA == headerUA, map[bool]string{false: "the page's navigator.userAgent differs from the request's User-Agent"}[e.UA == headerUA]))
	var missing []string
	if e.Languages == 0 {
		missing = append(missing, "navigator.languages")
	}
	if e.Screen[0] <= 0 || e.Screen[1] <= 0 {
		missing = append(missing, "screen")
	}
	missing = append(missing, e.Missing...)
	if len(missing) > 8 {
		missing = missing[:8]
	}
	out = append(out, check("apis", len(missing) == 0, strings.Join(missing, ",")))
	return out
}

// Thresholds of the interactive check. A person's pointer wanders over the
// page at uneven intervals and takes a moment to find the button; a
// scripted click lands at once, or after moves at a fixed interval.
const (
	minPressMillis    = 300
	minMoves          = 3
	minDistinctGaps   = 2
	maxKeyHoldMillis  = 3000
	minKeyHoldMillis  = 5
	maxRecordedEvents = 200
)

// interactionCheck scores the pointer and key timing of the interactive
// level. A keyboard user (no pointer) passes with a key held for a human
// length of time, so the page stays usable without a mouse.
func interactionCheck(raw string) *eventpb.CheckOutcome {
	var ix interaction
	if raw == "" {
		return check("interaction", false, "the button was not pressed")
	}
	if err := json.Unmarshal([]byte(raw), &ix); err != nil {
		return check("interaction", false, "unreadable interaction report: "+err.Error())
	}
	if len(ix.Moves) > maxRecordedEvents {
		ix.Moves = ix.Moves[:maxRecordedEvents]
	}
	if ix.Press < minPressMillis {
		return check("interaction", false, fmt.Sprintf("pressed %.0f ms after the page appeared", ix.Press))
	}
	if ix.KeyHold > 0 {
		ok := ix.KeyHold >= minKeyHoldMillis && ix.KeyHold <= maxKeyHoldMillis
		return check("interaction", ok, fmt.Sprintf("key held %.0f ms", ix.KeyHold))
	}
	if len(ix.Moves) < minMoves {
		return check("interaction", false, fmt.Sprintf("%d pointer moves before the press", len(ix.Moves)))
	}
	gaps := make([]int, 0, len(ix.Moves))
	for i := 1; i < len(ix.Moves); i++ {
		gaps = append(gaps, int(ix.Moves[i]-ix.Moves[i-1]))
	}
	slices.Sort(gaps)
	distinct := len(slices.Compact(gaps))
	if distinct < minDistinctGaps {
		return check("interaction", false, fmt.Sprintf("%d pointer moves at one fixed interval", len(ix.Moves)))
	}
	return check("interaction", true, fmt.Sprintf("%d pointer moves, pressed after %.0f ms", len(ix.Moves), ix.Press))
}
