package logparse

import "fmt"

// Load balancers' and proxies' fixed text formats, written as nginx-style
// format strings over the template matcher. Names not in nginxVars (e.g.
// $alb_elb) are fields that are skipped. Each layout is the one the
// provider documents for its default access log; the fixtures in
// sources_test.go are the providers' documented example lines.

// Traefik's Common Log Format (accessLog.format=common, the default):
// CLF plus the request count, router name, server URL and duration.
const traefikCLF = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $traefik_count "$traefik_router" "$traefik_server" $request_time_ms`

// Envoy's default access log format:
// [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%
// %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%"
// "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"
// It logs no peer address: the client comes from X-Forwarded-For, to which
// an edge Envoy appends the peer it saw.
const envoyDefault = `[$time_iso8601] "$request" $status $envoy_flags $envoy_received $body_bytes_sent $request_time_ms $envoy_upstream_time "$http_x_forwarded_for" "$http_user_agent" "$envoy_request_id" "$host" "$envoy_upstream_host"`

// AWS Application Load Balancer access logs (space-separated; AWS appends
// fields over the years, so anything after the trace id is not required).
const awsALB = `$alb_type $time_iso8601 $alb_elb $remote_addr_port $alb_target $alb_request_time $request_time $alb_response_time $status $alb_target_status $alb_received $bytes_sent "$request" "$http_user_agent" $ssl_cipher $ssl_protocol $alb_target_group "$alb_trace_id"`

// CloudFront standard logs (v1, tab-separated, the #Fields order AWS
// documents); the user agent, referer and cookie are percent-encoded, the
// time is UTC.
const cloudFront = "$date_tab_time\t$cf_edge\t$bytes_sent\t$remote_addr\t$request_method\t$cf_host\t$uri\t$status\t" +
	"$urlenc_http_referer\t$urlenc_http_user_agent\t$args\t$urlenc_http_cookie\t$cf_result\t$cf_request_id\t$host\t" +
	"$cf_scheme\t$cf_request_bytes\t$request_time\t$http_x_forwarded_for\t$ssl_protocol\t$ssl_cipher\t$cf_response_result\t$server_protocol\t"

// newSource builds the parser of a provider's format.
func newSource(c common) (Parser, error) {
	var (
		layout string
		setup  func(*template)
	)
	switch c.format {
	case FormatTraefik:
		layout = traefikCLF
	case FormatEnvoy:
		layout, setup = envoyDefault, func(t *template) { t.trailing = true }
	case FormatALB:
		layout, setup = awsALB, func(t *template) { t.trailing, t.absoluteURL = true, true }
	case FormatCloudFront:
		layout, setup = cloudFront, func(t *template) { t.trailing, t.headerLines = true, true }
	case FormatHAProxy:
		return newHAProxy(c), nil
	case FormatCaddy, FormatTraefikJSON, FormatGCPLB, FormatFastly:
		return newJSONSource(c)
	default:
		return nil, fmt.Errorf("format %s has no source layout", c.format)
	}
	opts := c.opts
	t, err := compileNginx(layout, opts)
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", c.format, err)
	}
	if setup != nil {
		setup(t)
	}
	return newTemplateParser(c, t), nil
}
