package challenge

import "fmt"

// Level is how hard a challenge is; a clearance of one level satisfies
// every level up to it. The seed documents' "challenge ladder": a light
// check for clients just over the CHALLENGE threshold, harder ones as the
// score nears BLOCK.
type Level uint8

const (
	// LevelLight: proof of work that takes a browser well under a second,
	// plus the browser-environment checks.
	LevelLight Level = 1
	// LevelHard: four times the work of LevelLight.
	LevelHard Level = 2
	// LevelInteractive: LevelLight's work, and the visitor presses a button;
	// pointer and key timing are scored on the server.
	LevelInteractive Level = 3
)

// The ladder's thresholds (rules' defaults: CHALLENGE at 70, BLOCK at 90),
// split into three steps.
const (
	hardFrom        = 80
	interactiveFrom = 85
)

// LevelFor is the level a CHALLENGE verdict of this score asks for.
func LevelFor(score float64) Level {
	switch {
	case score >= interactiveFrom:
		return LevelInteractive
	case score >= hardFrom:
		return LevelHard
	}
	return LevelLight
}

// Bits is the proof-of-work difficulty: leading zero bits of SHA-256.
// 16 bits is 65,536 hashes on average, about 0.15 s of the page's
// JavaScript on one shared server core; 18 bits four times that.
func (l Level) Bits() int {
	if l == LevelHard {
		return 18
	}
	return 16
}

// Interactive reports whether the level asks for a button press.
func (l Level) Interactive() bool { return l >= LevelInteractive }

func (l Level) String() string {
	switch l {
	case LevelLight:
		return "light"
	case LevelHard:
		return "hard"
	case LevelInteractive:
		return "interactive"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

func (l Level) valid() bool { return l >= LevelLight && l <= LevelInteractive }
