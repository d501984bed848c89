package logparse

import "time"

// Timestamps are parsed by hand rather than with time.Parse: time.Parse
// allocates a *time.Location for every numeric offset and an error value for
// every bad input, and silently accepts nothing we could not also check
// here. The calendar arithmetic itself is left to time.Date, after the
// fields have been range-checked (time.Date would quietly turn 31 Feb into
// 3 Mar).

// maxEpochNs is 2262-01-01T00:00:00Z in Unix nanoseconds.
const maxEpochNs = 9214646400 * int64(time.Second)

const (
	minYear = 1678 // int64 Unix nanoseconds cover 1677-09-21 .. 2262-04-11
	maxYear = 2261
)

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(m, y int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// civil returns Unix nanoseconds for a local civil time with a UTC offset in
// seconds, or a short reason why the fields are impossible.
func civil(y, mo, d, h, mi, s, nsec, off int) (int64, string) {
	switch {
	case y < minYear || y > maxYear:
		return 0, "year out of range"
	case mo < 1 || mo > 12:
		return 0, "month out of range"
	case d < 1 || d > daysIn(mo, y):
		return 0, "no such day in that month"
	case h > 23:
		return 0, "hour out of range"
	case mi > 59:
		return 0, "minute out of range"
	case s > 59:
		return 0, "second out of range"
	case off < -24*3600 || off > 24*3600:
		return 0, "UTC offset out of range"
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, nsec, time.UTC)
	return t.UnixNano() - int64(off)*int64(time.Second), ""
}

// digits parses exactly len(s) ASCII digits.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func month3(s string) int {
	if len(s) != 3 {
		return 0
	}
	switch s {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

// nginxTimeLen is len("02/Jan/2006:15:04:05 -0700"), nginx's $time_local.
const nginxTimeLen = 26

// parseTimeLocal parses nginx's $time_local.
func parseTimeLocal(s string) (int64, string) {
	if len(s) != nginxTimeLen || s[2] != '/' || s[6] != '/' || s[11] != ':' ||
		s[14] != ':' || s[17] != ':' || s[20] != ' ' || (s[21] != '+' && s[21] != '-') {
		return 0, "want dd/Mon/yyyy:hh:mm:ss +zzzz"
	}
	d, ok1 := digits(s[0:2])
	y, ok2 := digits(s[7:11])
	h, ok3 := digits(s[12:14])
	mi, ok4 := digits(s[15:17])
	sec, ok5 := digits(s[18:20])
	oh, ok6 := digits(s[22:24])
	om, ok7 := digits(s[24:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return 0, "want dd/Mon/yyyy:hh:mm:ss +zzzz"
	}
	mo := month3(s[3:6])
	if mo == 0 {
		return 0, "unknown month name"
	}
	if om > 59 {
		return 0, "UTC offset out of range"
	}
	off := oh*3600 + om*60
	if s[21] == '-' {
		off = -off
	}
	return civil(y, mo, d, h, mi, sec, 0, off)
}

// parseRFC3339 parses "2006-01-02T15:04:05[.frac](Z|±hh:mm)" (nginx
// $time_iso8601, Cloudflare's rfc3339 timestamps). 't', 'z' and a space for
// 'T' are accepted as RFC 3339 allows.
func parseRFC3339(s string) (int64, string) {
	const bad = "want yyyy-mm-ddThh:mm:ss[.frac](Z|+hh:mm)"
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
		s[13] != ':' || s[16] != ':' {
		return 0, bad
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	h, ok4 := digits(s[11:13])
	mi, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, bad
	}
	rest := s[19:]
	nsec := 0
	if rest[0] == '.' || rest[0] == ',' {
		i := 1
		scale := 100000000
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if scale > 0 {
				nsec += int(rest[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == 1 || i > 31 {
			return 0, bad
		}
		rest = rest[i:]
	}
	off := 0
	switch {
	case rest == "Z" || rest == "z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || om > 59 {
			return 0, bad
		}
		off = oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
	default:
		return 0, bad
	}
	return civil(y, mo, d, h, mi, sec, nsec, off)
}

// parseEpochSeconds parses "1700000000" or "1700000000.123" (nginx $msec)
// into nanoseconds without going through a float.
func parseEpochSeconds(s string) (int64, string) {
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			break
		}
	}
	if len(intPart) == 0 || len(intPart) > 11 || len(frac) > 9 || (len(frac) == 0 && len(intPart) != len(s)) {
		return 0, "want seconds since the epoch, e.g. 1700000000.123"
	}
	sec, ok := digits(intPart)
	if !ok {
		return 0, "want seconds since the epoch, e.g. 1700000000.123"
	}
	nsec := 0
	scale := 100000000
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return 0, "want seconds since the epoch, e.g. 1700000000.123"
		}
		nsec += int(c-'0') * scale
		scale /= 10
	}
	ns, reason := epochScale(int64(sec), int64(time.Second))
	if reason != "" {
		return 0, reason
	}
	return epochNanos(ns + int64(nsec))
}

// epochAuto reads an integer epoch timestamp whose unit is told by its size,
// as Cloudflare's timestamp formats unix (s) and unixnano (ns), and
// millisecond or microsecond variants, do not overlap in any plausible year.
func epochAuto(n int64) (int64, string) {
	switch {
	case n < 0:
		return 0, "negative timestamp"
	case n < 1e11: // seconds (until year 5138)
		return epochScale(n, int64(time.Second))
	case n < 1e14: // milliseconds
		return epochScale(n, int64(time.Millisecond))
	case n < 1e17: // microseconds
		return epochScale(n, int64(time.Microsecond))
	}
	return epochNanos(n)
}

// epochScale multiplies n by unit, refusing what would leave epochNanos's range.
func epochScale(n, unit int64) (int64, string) {
	if n < 0 || n > maxEpochNs/unit {
		return 0, "timestamp out of range"
	}
	return epochNanos(n * unit)
}

// epochNanos bounds a timestamp to the years parseRFC3339 also accepts.
func epochNanos(ns int64) (int64, string) {
	if ns < 0 || ns >= maxEpochNs {
		return 0, "timestamp out of range"
	}
	return ns, ""
}
