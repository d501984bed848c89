package subject

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// MaxSessionLen is the longest session id accepted, in bytes. Session
// cookies of common frameworks are 20 to 128 characters; a subject is a
// Kafka key and a key of every replica's in-memory table, so a 100 KB id
// must not become one.
const MaxSessionLen = 256

// ValidateSession checks a session id: 1 to MaxSessionLen bytes, each a
// visible ASCII character (0x21 to 0x7E). That admits every cookie value of
// RFC 6265 and base64, hex and URL-encoded ids, and refuses what cannot be a
// session id but could break a log line, a terminal or a CSV: spaces,
// newlines and other control characters, and non-ASCII bytes. It is the one
// check every entry point of subjects uses (subject.Parse, and so the CLI,
// the sidecar's session parameter and the verdict topic reader). The error
// wraps ErrMalformed.
func ValidateSession(id string) error {
	if why := sessionProblem(id); why != "" {
		return fmt.Errorf("%w: %s", ErrMalformed, why)
	}
	return nil
}

func sessionProblem(id string) string {
	if id == "" {
		return "empty session id"
	}
	if len(id) > MaxSessionLen {
		return fmt.Sprintf("session id of %d bytes, at most %d", len(id), MaxSessionLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return fmt.Sprintf("session id has byte 0x%02x at %d; want visible ASCII (0x21-0x7e)", c, i)
		}
	}
	return ""
}

// SessionID returns the id a session subject uses for a session id read
// from a log: the id itself when ValidateSession accepts it, otherwise "x-"
// and a hash of it, so that an over-long or binary cookie still names one
// session, without becoming a subject that no entry point accepts.
func SessionID(raw string) string {
	if ValidateSession(raw) == nil {
		return raw
	}
	sum := sha256.Sum256([]byte(raw))
	return "x-" + hex.EncodeToString(sum[:16])
}
