package logparse

import (
	"bytes"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// haproxyParser reads HAProxy's HTTP log format (option httplog), with or
// without the syslog header in front:
//
//	Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in \
//	  static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"
//
// The captured header blocks ({...}) are present only when the
// configuration captures headers, and what they hold depends on it, so
// they are skipped. HAProxy writes accept_date in the local time of its
// host without a zone: it is read as UTC (run HAProxy with TZ=UTC for exact
// times). Not a template: the syslog header in front varies in length and
// the captures are optional.
type haproxyParser struct {
	templateParser
}

func newHAProxy(c common) *haproxyParser {
	return &haproxyParser{templateParser: templateParser{nginxParser: nginxParser{common: c}, remoteField: "remote_addr"}}
}

func (p *haproxyParser) Parse(line []byte, ev *eventpb.RequestEvent) error {
	if err := p.begin(line, ev); err != nil {
		return err
	}
	f := p.format
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	// accept_date, "[dd/Mon/yyyy:hh:mm:ss.mmm]", is the first thing of its
	// shape; the client address is the word before it.
	open := -1
	for i := bytes.IndexByte(line, '['); i >= 0 && i+26 <= len(line); {
		if line[i+3] == '/' && line[i+7] == '/' && line[i+12] == ':' && line[i+21] == '.' && line[i+25] == ']' {
			open = i
			break
		}
		k := bytes.IndexByte(line[i+1:], '[')
		if k < 0 {
			break
		}
		i += k + 1
	}
	if open < 2 || line[open-1] != ' ' {
		return perr(f, ErrBadSyntax, "accept_date", 1, "want [dd/Mon/yyyy:hh:mm:ss.mmm] after the client address")
	}
	start := bytes.LastIndexByte(line[:open-1], ' ') + 1
	client := stripPort(b2s(line[start : open-1]))

	// "dd/Mon/yyyy:hh:mm:ss" + " +0000" for the nginx time parser, then the milliseconds.
	n := len(p.scratch)
	p.scratch = append(p.scratch, line[open+1:open+21]...)
	p.scratch = append(p.scratch, " +0000"...)
	ts, why := parseTimeLocal(b2s(p.scratch[n:]))
	p.scratch = p.scratch[:n]
	if why != "" {
		return p.timeErr("accept_date", open+2, why)
	}
	ms, ok := digits(b2s(line[open+22 : open+25]))
	if !ok {
		return perr(f, ErrBadSyntax, "accept_date", open+23, "want milliseconds")
	}
	ev.TimeUnixNano = ts + int64(ms)*1e6

	// frontend backend/server timers status bytes req_cookie res_cookie
	// termination_state conns queues
	i := open + 26
	var tok [10]string
	for k := range tok {
		t, next, ok := token(line, i)
		if !ok {
			return perr(f, ErrBadSyntax, haproxyFields[k], i+1, "want a space and a value")
		}
		tok[k], i = t, next
	}
	if t := tok[2]; t != "" { // TR/Tw/Tc/Tr/Ta: Ta, the last, is the whole request in ms
		ta := t[bytes.LastIndexByte(s2b(t), '/')+1:]
		if ta != "-1" {
			v, ok := parseSeconds(ta)
			if !ok {
				return perr(f, ErrBadSyntax, "timers", 0, "want TR/Tw/Tc/Tr/Ta in milliseconds")
			}
			p.reqTime = v / 1e3
			ev.RequestTimeSeconds = &p.reqTime
		}
	}
	if tok[3] != "-1" {
		st, ok := parseStatus(tok[3])
		if !ok {
			return perr(f, ErrBadSyntax, "status_code", 0, "want a 3-digit status code")
		}
		ev.Status = st
	}
	b := tok[4]
	if len(b) > 0 && b[0] == '+' { // option logasap: bytes so far
		b = b[1:]
	}
	nb, ok := parseUint(b)
	if !ok {
		return perr(f, ErrBadSyntax, "bytes_read", 0, "want a byte count")
	}
	ev.ResponseBytes = nb

	// Optional {captured headers}, then the quoted request to the end.
	for i+1 < len(line) && line[i] == ' ' && line[i+1] == '{' {
		end := bytes.IndexByte(line[i+1:], '}')
		if end < 0 {
			return perr(f, ErrBadSyntax, "captured_headers", i+2, "unterminated {")
		}
		i += end + 2
	}
	if i+1 >= len(line) || line[i] != ' ' || line[i+1] != '"' {
		return perr(f, ErrBadSyntax, "http_request", i+1, `want a space and the quoted request`)
	}
	req := line[i+2:]
	if n := len(req); n > 0 && req[n-1] == '"' {
		req = req[:n-1]
	} // else HAProxy cut an over-long request line
	splitRequest(p.text(req), ev)
	if err := p.setClient(ev, client, "", "client_ip", start+1); err != nil {
		return err
	}
	return p.common.finish(ev) // escapes the text fields, as every format does
}

var haproxyFields = [10]string{"frontend_name", "backend_name/server_name", "timers", "status_code", "bytes_read",
	"captured_request_cookie", "captured_response_cookie", "termination_state", "connections", "queues"}
