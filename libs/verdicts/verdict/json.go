package verdict

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// JSON is the verdict object of ARCHITECTURE.md (contract):
//
//	{"subject":"ip:203.0.113.7","action":"BLOCK","score":96.5,
//	 "reasons":["rate_10s=48/s","no_static_assets"],"at":"2026-11-21T10:00:03Z",
//	 "expires_at":"2026-11-21T11:00:03Z"}
//
// `at` and `expires_at` are left out when unknown or never; `rule`,
// `origin`, `would_be` and `addresses` (an fp: verdict's, at most
// subject.MaxFPAddresses) are added only when they carry something.
type JSON struct {
	Subject   string     `json:"subject"`
	Action    string     `json:"action"`
	Score     float64    `json:"score"`
	Reasons   []string   `json:"reasons"`
	At        *time.Time `json:"at,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Rule      string     `json:"rule,omitempty"`
	Origin    string     `json:"origin,omitempty"`
	WouldBe   string     `json:"would_be,omitempty"`
	Addresses []string   `json:"addresses,omitempty"`
}

// Marshal returns the contract JSON of v for subject (one line, no newline).
func Marshal(subject string, v *eventpb.Verdict) []byte {
	return AppendJSON(nil, subject, v)
}

// AppendJSON appends the contract JSON of v to dst. It is written by hand,
// not with encoding/json, because the sidecar answers with it on every
// request and must not allocate; TestAppendJSONMatchesEncodingJSON keeps the
// two in agreement. A nil v is the ALLOW answer for an unknown subject.
func AppendJSON(dst []byte, subject string, v *eventpb.Verdict) []byte {
	dst = append(dst, `{"subject":`...)
	dst = appendString(dst, subject)
	dst = append(dst, `,"action":"`...)
	dst = append(dst, ActionString(v.GetAction())...)
	dst = append(dst, `","score":`...)
	dst = strconv.AppendFloat(dst, v.GetScore(), 'f', -1, 64)
	dst = append(dst, `,"reasons":[`...)
	for i, r := range v.GetReasons() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, r)
	}
	dst = append(dst, ']')
	if at := v.GetAtUnixNano(); at != 0 {
		dst = append(dst, `,"at":"`...)
		dst = time.Unix(0, at).UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if exp := v.GetExpiresAtUnixNano(); exp != 0 {
		dst = append(dst, `,"expires_at":"`...)
		dst = time.Unix(0, exp).UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if r := v.GetRule(); r != "" {
		dst = append(dst, `,"rule":`...)
		dst = appendString(dst, r)
	}
	if v.GetOrigin() == eventpb.Origin_OPERATOR {
		dst = append(dst, `,"origin":"OPERATOR"`...)
	}
	if wb := v.GetWouldBe(); wb != eventpb.Action_ACTION_UNSPECIFIED {
		dst = append(dst, `,"would_be":"`...)
		dst = append(dst, ActionString(wb)...)
		dst = append(dst, '"')
	}
	if as := v.GetAddresses(); len(as) > 0 {
		dst = append(dst, `,"addresses":[`...)
		for i, a := range as {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, a)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// Unmarshal parses the contract JSON back into a subject and a verdict.
func Unmarshal(data []byte) (string, *eventpb.Verdict, error) {
	var j JSON
	if err := json.Unmarshal(data, &j); err != nil {
		return "", nil, err
	}
	a, err := ParseAction(j.Action)
	if err != nil {
		return "", nil, err
	}
	v := &eventpb.Verdict{Subject: j.Subject, Action: a, Score: j.Score, Reasons: j.Reasons, Rule: j.Rule, Addresses: j.Addresses}
	if j.At != nil {
		v.AtUnixNano = j.At.UnixNano()
	}
	if j.ExpiresAt != nil {
		v.ExpiresAtUnixNano = j.ExpiresAt.UnixNano()
	}
	if j.Origin == "OPERATOR" {
		v.Origin = eventpb.Origin_OPERATOR
	}
	if j.WouldBe != "" {
		if v.WouldBe, err = ParseAction(j.WouldBe); err != nil {
			return "", nil, err
		}
	}
	return j.Subject, v, nil
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string, escaping what RFC 8259 requires
// plus <, >, & and U+2028/9 as encoding/json does; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
