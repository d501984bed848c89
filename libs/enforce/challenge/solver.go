package challenge

import (
	"encoding/json"
	"errors"
	"html"
	"net/url"
	"regexp"
	"strconv"
)

// Page is what a client needs from a built-in challenge page to answer it
// without running its JavaScript: the form's fields and the script's
// constants. ParsePage reads them; Answer does what page.js does.
type Page struct {
	Token       string
	Return      string
	Nonce       string
	Bits        int
	Interactive bool
}

// ErrNotChallenge is returned by ParsePage for a page that is not a
// built-in challenge (another page, a failure page, a third-party widget).
var ErrNotChallenge = errors.New("challenge: not a built-in challenge page")

// The page is this package's own template (page.html.tmpl, page.js), so
// its few fields are found with patterns tied to it rather than with an
// HTML parser: solver_test.go parses pages the handler serves, so a change
// of the template that breaks them fails there.
var (
	reToken  = regexp.MustCompile(`name="token" value="([^"]*)"`)
	reReturn = regexp.MustCompile(`name="return" value="([^"]*)"`)
	reConsts = regexp.MustCompile(`var NONCE="([0-9a-f]+)",BITS=([0-9]+),INTERACTIVE=(true|false),[^\n]*?WIDGET=false;`)
)

// ParsePage reads a built-in challenge page.
func ParsePage(body []byte) (Page, error) {
	t, r, c := reToken.FindSubmatch(body), reReturn.FindSubmatch(body), reConsts.FindSubmatch(body)
	if t == nil || r == nil || c == nil {
		return Page{}, ErrNotChallenge
	}
	bits, err := strconv.Atoi(string(c[2]))
	if err != nil || bits > 32 {
		return Page{}, ErrNotChallenge
	}
	return Page{
		Token: html.UnescapeString(string(t[1])), Return: html.UnescapeString(string(r[1])),
		Nonce: string(c[1]), Bits: bits, Interactive: string(c[3]) == "true",
	}, nil
}

// BrowserReport is what page.js reports about the browser it runs in; a
// client answering in Go says what its browser would.
type BrowserReport struct {
	WebDriver bool
	UserAgent string
	Languages int
	Screen    [2]int
	Missing   []string
}

// Interaction is the pointer and key timing page.js records on the
// interactive level, in milliseconds since the page appeared.
type Interaction struct {
	Moves   []int
	Press   int
	KeyHold int
}

// Answer is the verify form page.js submits: the proof of work found
// (SolvePoW, as the page's loop finds it), the browser report and, on the
// interactive level, the interaction.
func (p Page) Answer(env BrowserReport, ix Interaction) url.Values {
	if env.Missing == nil {
		env.Missing = []string{}
	}
	e, _ := json.Marshal(browserEnv{WebDriver: env.WebDriver, UA: env.UserAgent, Languages: env.Languages, Screen: env.Screen, Missing: env.Missing})
	v := url.Values{
		"token":   {p.Token},
		"return":  {p.Return},
		"counter": {strconv.FormatUint(SolvePoW(p.Nonce, p.Bits), 10)},
		"env":     {string(e)},
		"ix":      {""},
	}
	if p.Interactive {
		moves := make([]float64, len(ix.Moves))
		for i, m := range ix.Moves {
			moves[i] = float64(m)
		}
		b, _ := json.Marshal(interaction{Moves: moves, Press: float64(ix.Press), KeyHold: float64(ix.KeyHold)})
		v.Set("ix", string(b))
	}
	return v
}

// SolvePoW finds the first counter whose SHA-256(nonce ":" counter) starts
// with bits zero bits, as the page's loop does.
func SolvePoW(nonceHex string, bits int) uint64 { return solvePoW(nonceHex, bits) }
