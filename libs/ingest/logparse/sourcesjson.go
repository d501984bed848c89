package logparse

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// JSON access logs of proxies and load balancers, each a table of JSON
// paths to what they hold. Values are converted by the template matcher's
// field code, so every format treats a status, a duration or an address
// the same way.

// jsonPath is one field of a JSON source.
type jsonPath struct {
	path []string // nested keys
	kind fieldKind
}

func paths(spec map[string]fieldKind) []jsonPath {
	out := make([]jsonPath, 0, len(spec))
	for p, k := range spec {
		out = append(out, jsonPath{path: strings.Split(p, "."), kind: k})
	}
	// A fixed order, so that a line always gives the same event.
	slices.SortFunc(out, func(a, b jsonPath) int {
		return strings.Compare(strings.Join(a.path, "."), strings.Join(b.path, "."))
	})
	return out
}

// Caddy's access log (http.log.access; caddyserver.com/docs/caddyfile/directives/log):
// the request is an object, headers are arrays of values, ts is epoch seconds.
var caddyPaths = paths(map[string]fieldKind{
	"ts":                              kTimeEpoch,
	"request.client_ip":               kRemoteAddr,
	"request.remote_ip":               kRemoteAddrAlt,
	"request.method":                  kMethod,
	"request.uri":                     kRequestURI,
	"request.proto":                   kProtocol,
	"request.host":                    kHost,
	"request.headers.User-Agent":      kUserAgent,
	"request.headers.Referer":         kReferer,
	"request.headers.Cookie":          kCookieHeader,
	"request.headers.Accept-Language": kAcceptLang,
	"request.headers.X-Forwarded-For": kXFF,
	"status":                          kStatus,
	"size":                            kBodyBytes,
	"duration":                        kSeconds,
})

// Traefik's JSON access log (doc.traefik.io/traefik/observability/access-logs/);
// headers appear as request_<Name> when the configuration keeps them.
var traefikJSONPaths = paths(map[string]fieldKind{
	"StartUTC":                kTimeISO,
	"ClientHost":              kRemoteAddr,
	"ClientAddr":              kRemoteAddrAlt,
	"RequestMethod":           kMethod,
	"RequestPath":             kRequestURI,
	"RequestProtocol":         kProtocol,
	"RequestHost":             kHost,
	"DownstreamStatus":        kStatus,
	"DownstreamContentSize":   kBodyBytes,
	"Duration":                kNanos,
	"TLSVersion":              kTLSVersion,
	"TLSCipher":               kTLSCipher,
	"request_User-Agent":      kUserAgent,
	"request_Referer":         kReferer,
	"request_Cookie":          kCookieHeader,
	"request_Accept-Language": kAcceptLang,
	"request_X-Forwarded-For": kXFF,
})

// Google Cloud external HTTP(S) load balancer request logs, a Cloud
// Logging LogEntry with an HttpRequest (cloud.google.com/load-balancing/docs/https/https-logging-monitoring),
// as exported to files or Pub/Sub.
var gcpPaths = paths(map[string]fieldKind{
	"timestamp":                 kTimeISO,
	"httpRequest.remoteIp":      kRemoteAddrPort,
	"httpRequest.requestMethod": kMethod,
	"httpRequest.requestUrl":    kRequestURI,
	"httpRequest.protocol":      kProtocol,
	"httpRequest.status":        kStatus,
	"httpRequest.responseSize":  kBodyBytes,
	"httpRequest.userAgent":     kUserAgent,
	"httpRequest.referer":       kReferer,
	"httpRequest.latency":       kSeconds,
})

// Fastly's JSON logging format as its documentation gives it
// (fastly.com/documentation/guides/integrations/streaming-logs/changing-log-line-formats/),
// plus the country code and TLS fields commonly added to it.
var fastlyPaths = paths(map[string]fieldKind{
	"timestamp":               kTimeISO,
	"client_ip":               kRemoteAddr,
	"host":                    kHost,
	"url":                     kRequestURI,
	"request_method":          kMethod,
	"request_protocol":        kProtocol,
	"request_referer":         kReferer,
	"request_user_agent":      kUserAgent,
	"request_accept_language": kAcceptLang,
	"request_cookie":          kCookieHeader,
	"response_status":         kStatus,
	"response_body_size":      kBodyBytes,
	"geo_country_code":        kCDNCountry,
	"tls_client_protocol":     kTLSVersion,
	"tls_client_cipher":       kTLSCipher,
	"request_time":            kSeconds,
})

// jsonSourceParser reads one of the JSON sources.
type jsonSourceParser struct {
	templateParser
	jp          fastjson.Parser
	paths       []jsonPath
	absoluteURL bool
	fd          templateField // reused per value: its kind and name vary
}

func newJSONSource(c common) (Parser, error) {
	p := &jsonSourceParser{templateParser: templateParser{nginxParser: nginxParser{common: c}, jsonText: true}}
	switch c.format {
	case FormatCaddy:
		p.paths = caddyPaths
	case FormatTraefikJSON:
		p.paths = traefikJSONPaths
	case FormatGCPLB:
		p.paths, p.absoluteURL = gcpPaths, true
	case FormatFastly:
		p.paths = fastlyPaths
	}
	if c.opts.SessionField != "" {
		p.paths = append(append([]jsonPath(nil), p.paths...), jsonPath{path: strings.Split(c.opts.SessionField, "."), kind: kSession})
	}
	return p, nil
}

func (p *jsonSourceParser) Parse(line []byte, ev *eventpb.RequestEvent) error {
	if err := p.begin(line, ev); err != nil {
		return err
	}
	v, err := p.jp.ParseBytes(line)
	if err != nil {
		return perr(p.format, ErrBadSyntax, "", 0, err.Error())
	}
	if v.Type() != fastjson.TypeObject {
		return perr(p.format, ErrBadSyntax, "", 1, "want a JSON object")
	}
	var st lineState
	haveTime := false
	for i := range p.paths {
		jp := &p.paths[i]
		fv := v.Get(jp.path...)
		if fv == nil {
			continue
		}
		p.fd.kind, p.fd.name = jp.kind, jp.path[len(jp.path)-1]
		if err := p.value(fv, ev, &st, &haveTime); err != nil {
			return err
		}
	}
	if !haveTime {
		return perr(p.format, ErrBadSyntax, "timestamp", 0, "no time on this line")
	}
	return p.finish(ev, &st, p.absoluteURL)
}

// value converts one JSON value: strings (and the first string of an
// array of header values) go through the template's field code, numbers
// are read as numbers.
func (p *jsonSourceParser) value(v *fastjson.Value, ev *eventpb.RequestEvent, st *lineState, haveTime *bool) error {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeArray:
		a, _ := v.Array()
		if len(a) == 0 {
			return nil
		}
		return p.value(a[0], ev, st, haveTime)
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return p.assign(&p.fd, b, 0, ev, st, haveTime)
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return perr(p.format, ErrBadSyntax, p.fd.name, 0, "want a non-negative number")
		}
		switch p.fd.kind {
		case kTimeEpoch:
			// From the number's text when it is plain decimal: a float64
			// cannot hold nanoseconds of a current epoch exactly.
			n := len(p.scratch)
			p.scratch = v.MarshalTo(p.scratch)
			ns, why := parseEpochSeconds(b2s(p.scratch[n:]))
			p.scratch = p.scratch[:n]
			if why != "" {
				if f >= float64(maxEpochNs/int64(time.Second)) {
					return perr(p.format, ErrBadTime, p.fd.name, 0, "timestamp out of range")
				}
				ns = int64(math.Round(f*1e6)) * int64(time.Microsecond)
			}
			ev.TimeUnixNano, *haveTime = ns, true
		case kStatus:
			if f > 999 || f != math.Trunc(f) {
				return perr(p.format, ErrBadSyntax, p.fd.name, 0, "want a status code")
			}
			ev.Status = uint32(f)
		case kBodyBytes, kBytesSent:
			if f >= 1<<63 {
				return perr(p.format, ErrBadSyntax, p.fd.name, 0, "byte count out of range")
			}
			if p.fd.kind == kBodyBytes || !st.haveBody {
				ev.ResponseBytes = uint64(f)
			}
			st.haveBody = st.haveBody || p.fd.kind == kBodyBytes
		case kSeconds, kMillis, kMicros, kNanos:
			switch p.fd.kind {
			case kMillis:
				f /= 1e3
			case kMicros:
				f /= 1e6
			case kNanos:
				f /= 1e9
			}
			p.reqTime = f
			ev.RequestTimeSeconds = &p.reqTime
		}
		return nil
	}
	return nil // objects and booleans hold nothing Bulwark reads
}
