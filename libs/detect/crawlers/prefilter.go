package crawlers

import (
	"regexp/syntax"
	"strings"
)

// Matching every bot's pattern against a User-Agent never seen before is
// what a client claiming no bot costs, and UA-rotating bots make every
// User-Agent new. Go's regexp has no fast path for case-insensitive
// alternations, and one combined pattern of 56 bots took half a
// millisecond per User-Agent. So each pattern gets the literals one of
// which any match must contain, found from its syntax tree; the
// User-Agent is lower-cased once and a pattern runs only when one of its
// literals is in it. (A multi-pattern matcher library would scan once;
// tens of strings.Contains calls over a short string cost microseconds,
// which is enough, and keep the patterns plain RE2.)

// requiredLiterals returns lower-cased strings one of which every match of
// pattern contains, or nil when none can be named (the pattern must run).
func requiredLiterals(pattern string) []string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	return needed(re.Simplify())
}

func needed(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{strings.ToLower(string(re.Rune))}
	case syntax.OpCapture:
		return needed(re.Sub[0])
	case syntax.OpPlus:
		return needed(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return needed(re.Sub[0])
		}
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			l := needed(s)
			if l == nil {
				return nil
			}
			out = append(out, l...)
		}
		return out
	case syntax.OpConcat:
		// Any part's literals are needed; the part whose shortest literal
		// is longest filters best.
		var best []string
		bestLen := 0
		for _, s := range re.Sub {
			l := needed(s)
			if l == nil {
				continue
			}
			if m := minLen(l); m > bestLen {
				best, bestLen = l, m
			}
		}
		return best
	}
	return nil
}

func minLen(l []string) int {
	m := len(l[0])
	for _, s := range l[1:] {
		m = min(m, len(s))
	}
	return m
}

// mayMatch reports whether a User-Agent, lower-cased, can match a pattern
// with these required literals.
func mayMatch(lowUA string, literals []string) bool {
	if literals == nil {
		return true
	}
	for _, l := range literals {
		if strings.Contains(lowUA, l) {
			return true
		}
	}
	return false
}
