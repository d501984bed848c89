package logparse

import (
	"fmt"
	"strings"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Format names a log format; the strings are the CLI's --format values.
type Format string

const (
	FormatNginx      Format = "nginx"
	FormatNginxJSON  Format = "nginx-json"
	FormatCloudflare Format = "cloudflare"
	// FormatApache is Apache httpd's LogFormat (Options.LogFormat; the
	// combined format when empty).
	FormatApache Format = "apache"

	// Load balancers, proxies and CDNs, each in the layout its provider
	// documents (sources.go, sourcesjson.go, haproxy.go).
	FormatCaddy       Format = "caddy"        // Caddy's JSON access log
	FormatTraefik     Format = "traefik"      // Traefik's Common Log Format
	FormatTraefikJSON Format = "traefik-json" // Traefik's JSON access log
	FormatHAProxy     Format = "haproxy"      // HAProxy's HTTP log format (option httplog)
	FormatEnvoy       Format = "envoy"        // Envoy's default access log format
	FormatALB         Format = "aws-alb"      // AWS Application Load Balancer access logs
	FormatCloudFront  Format = "cloudfront"   // AWS CloudFront standard logs
	FormatGCPLB       Format = "gcp-lb"       // Google Cloud HTTP(S) load balancer, Cloud Logging JSON
	FormatFastly      Format = "fastly"       // Fastly's documented JSON logging format
)

// Formats lists every supported format.
func Formats() []Format {
	return []Format{FormatNginx, FormatNginxJSON, FormatCloudflare, FormatApache,
		FormatCaddy, FormatTraefik, FormatTraefikJSON, FormatHAProxy, FormatEnvoy,
		FormatALB, FormatCloudFront, FormatGCPLB, FormatFastly}
}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, 0, len(Formats()))
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("unknown log format %q (want one of %s)", s, strings.Join(names, ", "))
}

// DefaultMaxLineBytes is the longest line accepted when Options.MaxLineBytes is 0.
const DefaultMaxLineBytes = 64 << 10

// DefaultSessionField is the nginx-json field holding the session id when
// neither SessionField nor SessionCookie is set (see log-format-json.conf).
const DefaultSessionField = "session_id"

// Options configure a Parser.
type Options struct {
	// SessionCookie names the cookie holding a session id: looked up in the
	// Cookies map (cloudflare) or in the raw Cookie header logged as the
	// "http_cookie" field (nginx-json), or a custom LogFormat's $cookie_NAME
	// or Cookie header. The nginx combined format logs no cookies, so it
	// refuses this option unless LogFormat is set.
	SessionCookie string
	// SessionField names a top-level field whose value is the session id
	// (nginx-json: default DefaultSessionField; cloudflare: none), or, with
	// LogFormat, the variable holding it ("sid" for $sid, "%{X-Session}i").
	SessionField string
	// LogFormat is an nginx log_format string (format nginx) or an Apache
	// LogFormat string (format apache), compiled once in New. Empty means
	// the built-in layout.
	LogFormat string
	// JSONFields renames fields of a JSON format: nginx variable name (or,
	// for cloudflare, Cloudflare field name) -> the key the log uses.
	JSONFields map[string]string
	// MaxLineBytes rejects longer lines with ErrTooLong; 0 means
	// DefaultMaxLineBytes.
	MaxLineBytes int
	// ClientIP resolves the client from the socket address and
	// X-Forwarded-For behind trusted proxies; nil means the socket address
	// (Cloudflare: ClientIP) is the client.
	ClientIP *clientip.Resolver
}

// Parser parses one line at a time. It is NOT safe for concurrent use, and
// what it puts in ev aliases the line and the Parser's buffers until the next
// call: see the package documentation.
type Parser interface {
	// Parse resets ev and fills it from line (without its trailing newline).
	// On error ev holds no meaningful data.
	Parse(line []byte, ev *eventpb.RequestEvent) error
}

// New returns a Parser for format f.
func New(f Format, opts Options) (Parser, error) {
	if opts.MaxLineBytes < 0 {
		return nil, fmt.Errorf("max line bytes %d: must not be negative", opts.MaxLineBytes)
	}
	if opts.MaxLineBytes == 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	c := common{format: f, opts: opts}
	if opts.LogFormat != "" && f != FormatNginx && f != FormatApache {
		return nil, fmt.Errorf("format %s: a log format string is for nginx or apache (JSON formats take a field mapping)", f)
	}
	if len(opts.JSONFields) > 0 && f != FormatNginxJSON {
		return nil, fmt.Errorf("format %s: a JSON field mapping is for nginx-json", f)
	}
	switch f {
	case FormatNginx, FormatApache:
		if f == FormatApache || opts.LogFormat != "" {
			return newCustom(c)
		}
		if opts.SessionCookie != "" || opts.SessionField != "" {
			return nil, fmt.Errorf("format %s logs no cookies or extra fields: a session cookie or field needs nginx-json", f)
		}
		return &nginxParser{common: c}, nil
	case FormatNginxJSON:
		if opts.SessionField == "" && opts.SessionCookie == "" {
			c.opts.SessionField = DefaultSessionField
		}
		return newNginxJSON(c)
	case FormatCloudflare:
		return newCloudflare(c), nil
	case FormatCaddy, FormatTraefik, FormatTraefikJSON, FormatHAProxy, FormatEnvoy,
		FormatALB, FormatCloudFront, FormatGCPLB, FormatFastly:
		return newSource(c)
	}
	_, err := ParseFormat(string(f))
	return nil, err
}

// Clone returns a deep copy of ev that owns all its memory, for a caller that
// must keep a parsed event past the next Parse. (proto.Clone is not enough:
// it copies string headers, which would still point into the Parser.)
func Clone(ev *eventpb.RequestEvent) *eventpb.RequestEvent {
	out := proto.Clone(ev).(*eventpb.RequestEvent)
	m := out.ProtoReflect()
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap() {
			m.Set(fd, protoreflect.ValueOfString(strings.Clone(v.String())))
		}
		return true
	})
	return out
}
