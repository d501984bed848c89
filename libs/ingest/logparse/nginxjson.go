package logparse

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// nginxJSONParser reads the log_format in deploy/nginx/log-format-json.conf.
// Field names are nginx's variable names; unknown fields are ignored, so
// operators may log more. Required: remote_addr and a time (msec,
// time_iso8601 or time_local).
type nginxJSONParser struct {
	common
	jp      fastjson.Parser
	visitFn func(key []byte, v *fastjson.Value)
	// alias maps a key the log uses to the nginx variable name it stands
	// for (Options.JSONFields, inverted); nil when the names are nginx's.
	alias map[string]string

	// Per-line state, filled while visiting the object.
	ev                       *eventpb.RequestEvent
	err                      error
	remote, xff, cookie      string
	request                  string
	uri, args                string
	haveRequestURI           bool
	iso, local               string
	msecNs                   int64
	haveMsec, haveIso, haveL bool
	reqTime                  float64
	acceptLanguage           string
}

func newNginxJSON(c common) (*nginxJSONParser, error) {
	p := &nginxJSONParser{common: c}
	p.visitFn = p.visit // bound once: a method value made per line would allocate
	if len(c.opts.JSONFields) > 0 {
		p.alias = make(map[string]string, len(c.opts.JSONFields))
		for name, key := range c.opts.JSONFields {
			if name == "" || key == "" {
				return nil, fmt.Errorf("JSON field mapping %q=%q: both names are needed", name, key)
			}
			if !knownJSONField(name) && name != c.opts.SessionField {
				return nil, fmt.Errorf("JSON field mapping %s=%s: %q is not a field Bulwark reads (want one of %s)", name, key, name, strings.Join(jsonFieldNames, ", "))
			}
			if prev, dup := p.alias[key]; dup {
				return nil, fmt.Errorf("JSON field mapping: key %q is mapped to both %s and %s", key, prev, name)
			}
			p.alias[key] = name
		}
	}
	return p, nil
}

// jsonFieldNames are the fields the nginx-json parser reads, as named in a
// --json-fields mapping.
var jsonFieldNames = []string{"msec", "time_iso8601", "time_local", "remote_addr", "http_x_forwarded_for",
	"host", "request_method", "request_uri", "uri", "args", "request", "server_protocol", "status",
	"body_bytes_sent", "bytes_sent", "request_time", "http_user_agent", "http_referer",
	"http_accept_language", "http_cookie", "ssl_protocol", "ssl_cipher", "ja3", "ja4", "session_id"}

func knownJSONField(name string) bool {
	for _, n := range jsonFieldNames {
		if n == name {
			return true
		}
	}
	return false
}

func (p *nginxJSONParser) Parse(line []byte, ev *eventpb.RequestEvent) error {
	if err := p.begin(line, ev); err != nil {
		return err
	}
	v, err := p.jp.ParseBytes(line)
	if err != nil {
		return perr(p.format, ErrBadSyntax, "", 0, err.Error())
	}
	o, err := v.Object()
	if err != nil {
		return perr(p.format, ErrBadSyntax, "", 1, "want a JSON object")
	}
	p.ev, p.err = ev, nil
	p.remote, p.xff, p.cookie, p.request, p.uri, p.args = "", "", "", "", "", ""
	p.haveRequestURI, p.haveMsec, p.haveIso, p.haveL = false, false, false, false
	o.Visit(p.visitFn)
	p.ev = nil
	if p.err != nil {
		return p.err
	}

	// Time: msec has millisecond precision and no zone to get wrong.
	var why string
	switch {
	case p.haveMsec:
		ev.TimeUnixNano = p.msecNs
	case p.haveIso:
		ev.TimeUnixNano, why = parseRFC3339(p.iso)
		if why != "" {
			return perr(p.format, ErrBadTime, "time_iso8601", 0, why)
		}
	case p.haveL:
		ev.TimeUnixNano, why = parseTimeLocal(p.local)
		if why != "" {
			return perr(p.format, ErrBadTime, "time_local", 0, why)
		}
	default:
		return perr(p.format, ErrBadSyntax, "msec", 0, "no msec, time_iso8601 or time_local field")
	}

	switch {
	case p.haveRequestURI:
		ev.Path, ev.Query = splitURI(p.uri)
	case p.uri != "":
		ev.Path, ev.Query = p.uri, p.args
	}
	if p.request != "" && ev.Method == "" && ev.Path == "" && !splitRequest(p.request, ev) {
		p.badLine = true
	}
	if p.opts.SessionCookie != "" && ev.SessionId == "" && p.cookie != "" {
		ev.SessionId = cookieValue(p.cookie, p.opts.SessionCookie)
	}
	if p.remote == "" {
		return perr(p.format, ErrBadIP, "remote_addr", 0, "missing")
	}
	if err := p.setClient(ev, p.remote, p.xff, "remote_addr", 0); err != nil {
		return err
	}
	return p.finish(ev)
}

func (p *nginxJSONParser) visit(key []byte, v *fastjson.Value) {
	if p.err != nil {
		return
	}
	ev := p.ev
	k := b2s(key)
	if p.alias != nil {
		if name, ok := p.alias[k]; ok {
			k = name
		}
	}
	if p.opts.SessionField != "" && k == p.opts.SessionField {
		ev.SessionId, _ = jsonStr(v)
		return
	}
	switch k {
	case "msec":
		p.msecValue(v)
	case "time_iso8601", "time":
		p.iso, p.haveIso = jsonStr(v)
	case "time_local":
		p.local, p.haveL = jsonStr(v)
	case "remote_addr":
		p.remote, _ = jsonStr(v)
	case "http_x_forwarded_for":
		s, _ := jsonStr(v)
		p.xff = dash(s)
	case "host":
		ev.Host, _ = jsonStr(v)
	case "request_method":
		ev.Method, _ = jsonStr(v)
	case "request_uri":
		p.uri, p.haveRequestURI = jsonStr(v)
	case "uri":
		if !p.haveRequestURI {
			p.uri, _ = jsonStr(v)
		}
	case "args":
		p.args, _ = jsonStr(v)
	case "request":
		p.request, _ = jsonStr(v)
	case "server_protocol":
		ev.Protocol, _ = jsonStr(v)
	case "status":
		n, absent, ok := jsonUint(v)
		if !ok || n > 999 {
			p.err = perr(p.format, ErrBadSyntax, k, 0, "want a status code")
		} else if !absent {
			ev.Status = uint32(n)
		}
	case "body_bytes_sent", "bytes_sent":
		n, absent, ok := jsonUint(v)
		if !ok {
			p.err = perr(p.format, ErrBadSyntax, k, 0, "want a byte count")
		} else if !absent && (k == "body_bytes_sent" || ev.ResponseBytes == 0) {
			ev.ResponseBytes = n
		}
	case "request_time":
		f, absent, ok := jsonSeconds(v)
		if !ok {
			p.err = perr(p.format, ErrBadSyntax, k, 0, "want seconds such as 0.042")
		} else if !absent {
			p.reqTime = f
			ev.RequestTimeSeconds = &p.reqTime
		}
	case "http_user_agent":
		s, _ := jsonStr(v)
		ev.UserAgent = dash(s)
	case "http_referer":
		s, _ := jsonStr(v)
		ev.Referer = dash(s)
	case "http_accept_language":
		if s, ok := jsonStr(v); ok && s != "" && s != "-" {
			p.acceptLanguage = s
			ev.AcceptLanguage = &p.acceptLanguage
		}
	case "http_cookie":
		p.cookie, _ = jsonStr(v)
	case "http_sec_fetch_mode":
		s, _ := jsonStr(v)
		ev.SecFetchMode = dash(s)
	case "http_sec_fetch_dest":
		s, _ := jsonStr(v)
		ev.SecFetchDest = dash(s)
	case "ssl_protocol":
		ev.TlsVersion, _ = jsonStr(v)
	case "ssl_cipher":
		ev.TlsCipher, _ = jsonStr(v)
	case "ja3", "http_ssl_ja3_hash":
		ev.Ja3, _ = jsonStr(v)
	case "ja4", "http_ssl_ja4":
		ev.Ja4, _ = jsonStr(v)
	}
}

// msecValue reads $msec logged as a string ("1700000000.123") or a number.
func (p *nginxJSONParser) msecValue(v *fastjson.Value) {
	var why string
	switch v.Type() {
	case fastjson.TypeNull:
		return
	case fastjson.TypeString:
		s, _ := jsonStr(v)
		p.msecNs, why = parseEpochSeconds(s)
	case fastjson.TypeNumber:
		f, _ := v.Float64()
		if f < 0 || f >= float64(maxEpochNs/int64(time.Second)) {
			why = "timestamp out of range"
		} else {
			p.msecNs = int64(math.Round(f*1e6)) * int64(time.Microsecond)
		}
	default:
		why = "want seconds since the epoch"
	}
	if why != "" {
		p.err = perr(p.format, ErrBadTime, "msec", 0, why)
		return
	}
	p.haveMsec = true
}
