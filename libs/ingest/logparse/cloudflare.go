package logparse

import (
	"strings"

	"github.com/valyala/fastjson"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// cloudflareParser reads Cloudflare Logpush lines of the http_requests
// dataset (NDJSON, Cloudflare's field names; see
// developers.cloudflare.com/logs/reference/log-fields/zone/http_requests).
// Logpush sends only the fields a job selects, so every field but ClientIP
// and EdgeStartTimestamp is optional. EdgeStartTimestamp may come in any of
// Logpush's timestamp formats: rfc3339 (string), unix (seconds) or unixnano.
type cloudflareParser struct {
	common
	jp        fastjson.Parser
	visitFn   func(key []byte, v *fastjson.Value)
	headersFn func(key []byte, v *fastjson.Value)

	ev                   *eventpb.RequestEvent
	err                  error
	clientIP, xff        string
	path, uri            string
	haveTime             bool
	ttfbMs, originMs     float64
	haveTTFB, haveOrigin bool
	reqTime              float64
	acceptLanguage       string
	botScore             uint32
	verifiedBot          bool
}

func newCloudflare(c common) *cloudflareParser {
	p := &cloudflareParser{common: c}
	// Bound once: method values made per line would allocate.
	p.visitFn = p.visit
	p.headersFn = p.header
	return p
}

func (p *cloudflareParser) Parse(line []byte, ev *eventpb.RequestEvent) error {
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
	p.clientIP, p.xff, p.path, p.uri = "", "", "", ""
	p.haveTime, p.haveTTFB, p.haveOrigin = false, false, false
	o.Visit(p.visitFn)
	p.ev = nil
	if p.err != nil {
		return p.err
	}
	if !p.haveTime {
		return perr(p.format, ErrBadSyntax, "EdgeStartTimestamp", 0, "missing")
	}
	switch {
	case p.uri != "":
		ev.Path, ev.Query = splitURI(p.uri)
	case p.path != "":
		ev.Path = p.path
	}
	// Time to first byte is what the client waited, the nearest thing to
	// nginx's $request_time; the origin's duration is 0 for cache hits.
	switch {
	case p.haveTTFB:
		p.reqTime = p.ttfbMs / 1000
		ev.RequestTimeSeconds = &p.reqTime
	case p.haveOrigin:
		p.reqTime = p.originMs / 1000
		ev.RequestTimeSeconds = &p.reqTime
	}
	if p.clientIP == "" {
		return perr(p.format, ErrBadIP, "ClientIP", 0, "missing")
	}
	if err := p.setClient(ev, p.clientIP, p.xff, "ClientIP", 0); err != nil {
		return err
	}
	return p.finish(ev)
}

func (p *cloudflareParser) visit(key []byte, v *fastjson.Value) {
	if p.err != nil {
		return
	}
	ev := p.ev
	k := b2s(key)
	if p.opts.SessionField != "" && k == p.opts.SessionField {
		ev.SessionId, _ = jsonStr(v)
		return
	}
	switch k {
	case "ClientIP":
		p.clientIP, _ = jsonStr(v)
	case "ClientRequestHost":
		ev.Host, _ = jsonStr(v)
	case "ClientRequestMethod":
		ev.Method, _ = jsonStr(v)
	case "ClientRequestURI":
		p.uri, _ = jsonStr(v)
	case "ClientRequestPath":
		p.path, _ = jsonStr(v)
	case "ClientRequestProtocol":
		ev.Protocol, _ = jsonStr(v)
	case "ClientRequestUserAgent":
		ev.UserAgent, _ = jsonStr(v)
	case "ClientRequestReferer":
		ev.Referer, _ = jsonStr(v)
	case "EdgeResponseStatus":
		n, absent, ok := jsonUint(v)
		if !ok || n > 999 {
			p.err = perr(p.format, ErrBadSyntax, k, 0, "want a status code")
		} else if !absent {
			ev.Status = uint32(n)
		}
	case "EdgeResponseBytes":
		n, absent, ok := jsonUint(v)
		if !ok {
			p.err = perr(p.format, ErrBadSyntax, k, 0, "want a byte count")
		} else if !absent {
			ev.ResponseBytes = n
		}
	case "EdgeStartTimestamp":
		p.timestamp(v, k)
	case "ClientCountry":
		s, _ := jsonStr(v)
		ev.CdnCountry = p.upper(s)
	case "ClientASN":
		n, absent, ok := jsonUint(v)
		if !ok || n > 1<<32-1 {
			p.err = perr(p.format, ErrBadSyntax, k, 0, "want an AS number")
		} else if !absent {
			ev.CdnAsn = uint32(n)
		}
	case "BotScore":
		// 1 (bot) .. 99 (human); 0 means Cloudflare computed none.
		n, absent, ok := jsonUint(v)
		if !ok {
			p.err = perr(p.format, ErrBadSyntax, k, 0, "want a bot score")
		} else if !absent && n >= 1 && n <= 100 {
			p.botScore = uint32(n)
			ev.CdnBotScore = &p.botScore
		}
	case "VerifiedBotCategory":
		if s, ok := jsonStr(v); ok {
			p.verifiedBot = s != ""
			ev.CdnVerifiedBot = &p.verifiedBot
		}
	case "JA3Hash":
		ev.Ja3, _ = jsonStr(v)
	case "JA4":
		ev.Ja4, _ = jsonStr(v)
	case "ClientSSLProtocol":
		s, _ := jsonStr(v)
		if s != "none" {
			ev.TlsVersion = s
		}
	case "ClientSSLCipher":
		s, _ := jsonStr(v)
		if s != "NONE" && s != "none" {
			ev.TlsCipher = s
		}
	case "RayID":
		ev.CdnRequestId, _ = jsonStr(v)
	case "SecurityAction":
		s, _ := jsonStr(v)
		if s != "unknown" {
			ev.CdnSecurityAction = s
		}
	case "EdgeTimeToFirstByteMs":
		p.ttfbMs, p.haveTTFB = p.millis(v, k)
	case "OriginResponseDurationMs":
		p.originMs, p.haveOrigin = p.millis(v, k)
	case "RequestHeaders":
		if v.Type() == fastjson.TypeObject {
			o, _ := v.Object()
			o.Visit(p.headersFn)
		}
	case "Cookies":
		if p.opts.SessionCookie != "" && v.Type() == fastjson.TypeObject {
			o, _ := v.Object()
			ev.SessionId, _ = jsonStr(o.Get(p.opts.SessionCookie))
		}
	}
}

// header picks what Bulwark uses from the RequestHeaders map, whose keys
// Cloudflare logs in lower case; compared case-insensitively all the same.
func (p *cloudflareParser) header(key []byte, v *fastjson.Value) {
	k := b2s(key)
	switch {
	case strings.EqualFold(k, "accept-language"):
		if s, ok := jsonStr(v); ok && s != "" {
			p.acceptLanguage = s
			p.ev.AcceptLanguage = &p.acceptLanguage
		}
	case strings.EqualFold(k, "x-forwarded-for"):
		p.xff, _ = jsonStr(v)
	case strings.EqualFold(k, "sec-fetch-mode"):
		p.ev.SecFetchMode, _ = jsonStr(v)
	case strings.EqualFold(k, "sec-fetch-dest"):
		p.ev.SecFetchDest, _ = jsonStr(v)
	case p.opts.SessionCookie != "" && strings.EqualFold(k, "cookie") && p.ev.SessionId == "":
		s, _ := jsonStr(v)
		p.ev.SessionId = cookieValue(s, p.opts.SessionCookie)
	}
}

func (p *cloudflareParser) timestamp(v *fastjson.Value, field string) {
	var (
		ns  int64
		why string
	)
	switch v.Type() {
	case fastjson.TypeNumber:
		n, err := v.Int64()
		if err != nil {
			why = "want an integer timestamp"
			break
		}
		ns, why = epochAuto(n)
	case fastjson.TypeString:
		s, _ := jsonStr(v)
		if n, ok := parseUint(s); ok {
			if n > 1<<63-1 {
				why = "timestamp out of range"
				break
			}
			ns, why = epochAuto(int64(n))
		} else {
			ns, why = parseRFC3339(s)
		}
	default:
		why = "want an RFC 3339 string or a Unix timestamp"
	}
	if why != "" {
		p.err = perr(p.format, ErrBadTime, field, 0, why)
		return
	}
	p.ev.TimeUnixNano = ns
	p.haveTime = true
}

func (p *cloudflareParser) millis(v *fastjson.Value, field string) (float64, bool) {
	f, absent, ok := jsonSeconds(v) // same number syntax, unit aside
	if !ok {
		p.err = perr(p.format, ErrBadSyntax, field, 0, "want milliseconds")
		return 0, false
	}
	return f, !absent
}

// upper returns s in upper case (Cloudflare logs countries as "us"), in the
// scratch buffer when it had to change.
func (p *cloudflareParser) upper(s string) string {
	lower := false
	for i := 0; i < len(s); i++ {
		if s[i] >= 'a' && s[i] <= 'z' {
			lower = true
			break
		}
	}
	if !lower {
		return s
	}
	n := len(p.scratch)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		p.scratch = append(p.scratch, c)
	}
	return b2s(p.scratch[n:])
}
