package logparse

// JSON access logs of proxies and load balancers, each a table of JSON
// paths to what they hold, read by the shared JSON scanner (jsonscan.go).

// source declares a provider's JSON format: its paths, the objects whose
// keys are header names (compared case-insensitively), and whether the
// request target is a full URL.
func source(fields map[string]fieldKind, headers string, absoluteURL bool) *jsonSpec {
	s := &jsonSpec{fields: fields, timeField: "timestamp", noTime: "no time on this line", remoteField: "remote_addr",
		absoluteURL: absoluteURL}
	if headers != "" {
		s.foldCase = []string{headers}
	}
	return s
}

// Caddy's access log (http.log.access; caddyserver.com/docs/caddyfile/directives/log):
// the request is an object, headers are arrays of values, ts is epoch seconds.
var caddySpec = source(map[string]fieldKind{
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
}, "request.headers", false)

// Traefik's JSON access log (doc.traefik.io/traefik/observability/access-logs/);
// headers appear as request_<Name> when the configuration keeps them.
var traefikJSONSpec = source(map[string]fieldKind{
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
}, "", false)

// Google Cloud external HTTP(S) load balancer request logs, a Cloud
// Logging LogEntry with an HttpRequest (cloud.google.com/load-balancing/docs/https/https-logging-monitoring),
// as exported to files or Pub/Sub.
var gcpSpec = source(map[string]fieldKind{
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
}, "", true)

// Fastly's JSON logging format as its documentation gives it
// (fastly.com/documentation/guides/integrations/streaming-logs/changing-log-line-formats/),
// plus the country code and TLS fields commonly added to it.
var fastlySpec = source(map[string]fieldKind{
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
}, "", false)

// newJSONSource builds the parser of a provider's JSON format.
func newJSONSource(c common) (Parser, error) {
	return newJSON(c, jsonSources[c.format], c.opts.SessionField, nil), nil
}

var jsonSources = map[Format]*jsonSpec{
	FormatCaddy:       caddySpec,
	FormatTraefikJSON: traefikJSONSpec,
	FormatGCPLB:       gcpSpec,
	FormatFastly:      fastlySpec,
}
