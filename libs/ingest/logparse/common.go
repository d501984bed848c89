package logparse

import (
	"net/netip"
	"unsafe"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// common is what every format's parser shares: options and the scratch
// buffer that decoded strings live in until the next Parse.
type common struct {
	format  Format
	opts    Options
	scratch []byte
	// Per line: the request held bytes a parser kept escaped, or its request
	// line did not split (see finish).
	badBytes, badLine bool
}

// begin resets ev, applies the line-wide checks and readies the scratch
// buffer. Decoded text is never longer than the line, so with this capacity
// the buffer does not move during one Parse unless finish escapes bad bytes
// (then earlier strings still point at the old array, which stays alive:
// only an allocation is lost, never correctness). Invalid UTF-8 is not a
// line-wide error: finish escapes it field by field.
func (c *common) begin(line []byte, ev *eventpb.RequestEvent) error {
	ev.Reset()
	if len(line) > c.opts.MaxLineBytes {
		return perr(c.format, ErrTooLong, "", c.opts.MaxLineBytes+1, "line is longer than the maximum line length")
	}
	if need := len(line) + 128; cap(c.scratch) < need {
		c.scratch = make([]byte, 0, need+need/2)
	}
	c.scratch = c.scratch[:0]
	c.badBytes, c.badLine = false, false
	ev.Format = string(c.format)
	return nil
}

// setClient resolves and records the client address. remote is the socket
// address as logged ("unix:" for a Unix-socket peer), xff the raw
// X-Forwarded-For value or "".
func (c *common) setClient(ev *eventpb.RequestEvent, remote, xff string, field string, col int) error {
	var ra netip.Addr
	if remote != "unix:" {
		a, ok := clientip.ParseHop(remote)
		if !ok {
			return perr(c.format, ErrBadIP, field, col, "not an IP address")
		}
		ra = a
	}
	client := c.opts.ClientIP.FromXFFString(ra, xff)
	if !client.IsValid() {
		return perr(c.format, ErrBadIP, field, col, "Unix-socket peer and no usable X-Forwarded-For hop")
	}
	n := len(c.scratch)
	c.scratch = client.AppendTo(c.scratch)
	ev.ClientIp = b2s(c.scratch[n:])
	if remote != ev.ClientIp {
		ev.RemoteAddr = remote
	}
	ev.ForwardedFor = xff
	return nil
}

func b2s(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// parseUint parses ASCII digits without allocating; false on anything else
// or on overflow.
func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseStatus accepts 1 to 3 digits (nginx logs 000 for a request that got no
// response).
func parseStatus(s string) (uint32, bool) {
	if len(s) == 0 || len(s) > 3 {
		return 0, false
	}
	n, ok := parseUint(s)
	return uint32(n), ok
}

// dash maps nginx's "-" for an absent value to "".
func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}
