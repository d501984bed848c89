package subject

import (
	"errors"
	"strconv"
)

// A fingerprint subject ("fp:02f1bea35578836f") names what many addresses
// show alike: xxhash64 of the user agent, protocol, JA3/JA4 and the
// optional headers a log carries (libs/detect/attacks Fingerprint). Many
// people share a browser build, so a fingerprint is never judged alone: an
// fp: verdict exists only while an attack with that fingerprint is active
// and lists the addresses it covers (Verdict.addresses, ARCHITECTURE.md);
// readers enforce it on those addresses only.

// FPDigits is the length of a fingerprint's hex spelling.
const FPDigits = 16

// MaxFPAddresses bounds the addresses one fp: verdict lists (and so the
// record, every sidecar's index and the edge lists it expands to): 1,024
// addresses are about 20 KB on the verdict topic. Past it the decider keeps
// the most recently seen; the rest are still judged one by one by attack
// mode's own ip: verdicts.
const MaxFPAddresses = 1024

// FP returns the canonical subject of a fingerprint ("fp:" and 16 lower
// case hex digits).
func FP(fp uint64) string {
	var b [3 + FPDigits]byte
	copy(b[:], "fp:")
	s := strconv.AppendUint(b[:3], fp, 16)
	pad := FPDigits - (len(s) - 3)
	if pad > 0 {
		copy(b[3+pad:], s[3:])
		for i := 3; i < 3+pad; i++ {
			b[i] = '0'
		}
	}
	return string(b[:])
}

func parseFP(hex string) (uint64, error) {
	if len(hex) != FPDigits {
		return 0, errors.New("bad fingerprint, want fp: and 16 hex digits")
	}
	fp, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return 0, errors.New("bad fingerprint, want fp: and 16 hex digits")
	}
	return fp, nil
}
