package logparse

import (
	"fmt"
	"strings"
)

// Named formats accepted as a --log-format value.
const (
	NginxCombined  = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`
	ApacheCombined = `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`
	ApacheCommon   = `%h %l %u %t "%r" %>s %b`
)

// nginxVars maps nginx variable names to what they hold; a variable not
// listed here is skipped (the line still has to match around it).
var nginxVars = map[string]fieldKind{
	"remote_addr":          kRemoteAddr,
	"time_local":           kTimeLocal,
	"time_iso8601":         kTimeISO,
	"msec":                 kTimeEpoch,
	"request":              kRequest,
	"request_method":       kMethod,
	"request_uri":          kRequestURI,
	"uri":                  kURI,
	"document_uri":         kURI,
	"args":                 kArgs,
	"query_string":         kArgs,
	"server_protocol":      kProtocol,
	"status":               kStatus,
	"body_bytes_sent":      kBodyBytes,
	"bytes_sent":           kBytesSent,
	"request_time":         kSeconds,
	"http_referer":         kReferer,
	"http_user_agent":      kUserAgent,
	"http_x_forwarded_for": kXFF,
	"http_accept_language": kAcceptLang,
	"http_cookie":          kCookieHeader,
	"http_sec_fetch_mode":  kSecFetchMode,
	"http_sec_fetch_dest":  kSecFetchDest,
	"host":                 kHost,
	"http_host":            kHost,
	"server_name":          kServerName,
	"ssl_protocol":         kTLSVersion,
	"ssl_cipher":           kTLSCipher,
	"ssl_ja3_hash":         kJA3,
	"http_ssl_ja3_hash":    kJA3,
	"ja3":                  kJA3,
	"ja4":                  kJA4,
	"ssl_ja4":              kJA4,
	"http_ssl_ja4":         kJA4,
	// Internal names the Apache and fixed-format compilers map to.
	"remote_host":         kRemoteHost,
	"remote_addr_port":    kRemoteAddrPort,
	"time_bracketed":      kTimeBracketed,
	"request_time_ms":     kMillis,
	"request_time_us":     kMicros,
	"apache_query_string": kQueryApache,
	"request_time_ns":     kNanos,
	"cdn_country":         kCDNCountry,
	"date_tab_time":       kTimeDateTab,
	"remote_addr_alt":     kRemoteAddrAlt,
	// CloudFront's percent-encoded headers.
	"urlenc_http_referer":    kReferer,
	"urlenc_http_user_agent": kUserAgent,
	"urlenc_http_cookie":     kCookieHeader,
}

// fieldWidth gives the fixed width of fields that hold spaces but are not
// quoted in the usual formats.
func fieldWidth(k fieldKind) int {
	switch k {
	case kTimeLocal:
		return nginxTimeLen
	case kTimeBracketed:
		return nginxTimeLen + 2
	case kTimeDateTab:
		return 19
	}
	return 0
}

// tmplPart is a parsed format before the fields are classified.
type tmplPart struct {
	lit  string // literal text (when name is "")
	name string // nginx-style variable name
	as   string // as written, for errors
}

// compileTemplate turns parts into a template, binding the session options.
func compileTemplate(parts []tmplPart, opts Options, session string) (*template, error) {
	t := &template{}
	var lits []string
	cur := ""
	for _, pt := range parts {
		if pt.name == "" {
			cur += pt.lit
			continue
		}
		if len(t.fields) == 0 {
			t.prefix = []byte(cur)
		} else {
			lits = append(lits, cur)
		}
		cur = ""
		t.fields = append(t.fields, templateField{name: pt.as, kind: classify(pt.name, opts, session),
			urlEncoded: strings.HasPrefix(pt.name, "urlenc_")})
	}
	if len(t.fields) == 0 {
		return nil, fmt.Errorf("the format has no variables")
	}
	lits = append(lits, cur)
	haveTime, haveClient, haveSession, haveCookie := false, false, false, false
	for i := range t.fields {
		fd := &t.fields[i]
		fd.after = []byte(lits[i])
		fd.width = fieldWidth(fd.kind)
		before := t.prefix
		if i > 0 {
			before = t.fields[i-1].after
		}
		fd.quoted = len(before) > 0 && before[len(before)-1] == '"' && len(fd.after) > 0 && fd.after[0] == '"'
		if fd.width == 0 && len(fd.after) == 0 && i < len(t.fields)-1 {
			return nil, fmt.Errorf("%s and %s have nothing between them: the line cannot be split there", fd.name, t.fields[i+1].name)
		}
		switch fd.kind {
		case kTimeLocal, kTimeBracketed, kTimeISO, kTimeEpoch, kTimeDateTab:
			haveTime = true
		case kRemoteAddr, kRemoteHost, kRemoteAddrPort, kRemoteAddrAlt, kXFF:
			haveClient = true
		case kSession:
			haveSession = true
		case kCookieHeader:
			haveCookie = true
		}
	}
	if !haveTime {
		return nil, fmt.Errorf("the format logs no time: add $time_local, $time_iso8601 or $msec (Apache: %%t)")
	}
	if !haveClient {
		return nil, fmt.Errorf("the format logs no client address: add $remote_addr or $http_x_forwarded_for (Apache: %%h or %%a)")
	}
	if opts.SessionField != "" && !haveSession {
		return nil, fmt.Errorf("session field %q is not a variable of the format (nginx: $%s; Apache: %%{%s}e, %%{%s}n, %%{%s}C or %%{%s}i)",
			opts.SessionField, opts.SessionField, opts.SessionField, opts.SessionField, opts.SessionField, opts.SessionField)
	}
	if opts.SessionCookie != "" && !haveSession && !haveCookie {
		return nil, fmt.Errorf("session cookie %q: the format logs neither $cookie_%s nor the Cookie header ($http_cookie, Apache: %%{Cookie}i or %%{%s}C)",
			opts.SessionCookie, opts.SessionCookie, opts.SessionCookie)
	}
	return t, nil
}

func classify(name string, opts Options, session string) fieldKind {
	if session != "" && name == session {
		return kSession
	}
	if opts.SessionCookie != "" && name == "cookie_"+opts.SessionCookie {
		return kSession
	}
	return nginxVars[name] // kSkip when absent
}

// compileNginx compiles an nginx log_format string ("combined" names the
// stock one). Variables are $name or ${name}.
func compileNginx(format string, opts Options) (*template, error) {
	if format == "combined" {
		format = NginxCombined
	}
	var parts []tmplPart
	lit := strings.Builder{}
	for i := 0; i < len(format); {
		c := format[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		j := i + 1
		braced := j < len(format) && format[j] == '{'
		if braced {
			j++
		}
		k := j
		for k < len(format) && isVarChar(format[k]) {
			k++
		}
		if k == j {
			return nil, fmt.Errorf("log format: a $ at column %d is not followed by a variable name", i+1)
		}
		name := format[j:k]
		if braced {
			if k >= len(format) || format[k] != '}' {
				return nil, fmt.Errorf("log format: ${%s at column %d is not closed with }", name, i+1)
			}
			k++
		}
		if lit.Len() > 0 {
			parts = append(parts, tmplPart{lit: lit.String()})
			lit.Reset()
		}
		parts = append(parts, tmplPart{name: name, as: "$" + name})
		i = k
	}
	if lit.Len() > 0 {
		parts = append(parts, tmplPart{lit: lit.String()})
	}
	t, err := compileTemplate(parts, opts, sessionName(opts.SessionField))
	if err != nil {
		return nil, fmt.Errorf("nginx log format: %w", err)
	}
	return t, nil
}

func isVarChar(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// sessionName turns --session-field into the nginx-style variable name it
// names: "sid" or "$sid", or an Apache directive such as "%{X-Session}i".
func sessionName(field string) string {
	switch {
	case field == "":
		return ""
	case field[0] == '$':
		return field[1:]
	case field[0] == '%':
		if name, _, err := apacheDirective(field, 0); err == nil {
			return name
		}
	}
	return field
}

// compileApache compiles an Apache LogFormat string ("combined" and
// "common" name the stock ones).
func compileApache(format string, opts Options) (*template, error) {
	switch format {
	case "", "combined":
		format = ApacheCombined
	case "common":
		format = ApacheCommon
	}
	var parts []tmplPart
	lit := strings.Builder{}
	for i := 0; i < len(format); {
		c := format[i]
		if c == '\\' && i+1 < len(format) { // as in httpd.conf: \" \n \t
			switch format[i+1] {
			case 'n':
				lit.WriteByte('\n')
			case 't':
				lit.WriteByte('\t')
			default:
				lit.WriteByte(format[i+1])
			}
			i += 2
			continue
		}
		if c != '%' {
			lit.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(format) && format[i+1] == '%' {
			lit.WriteByte('%')
			i += 2
			continue
		}
		name, next, err := apacheDirective(format, i)
		if err != nil {
			return nil, fmt.Errorf("apache log format: %w", err)
		}
		if n := len(parts); name == "apache_query_string" && lit.Len() == 0 && n > 0 && parts[n-1].name == "uri" {
			// %U%q, the usual way to log the target without the request
			// line, is $request_uri: one field, split at the '?'.
			parts[n-1] = tmplPart{name: "request_uri", as: parts[n-1].as + format[i:next]}
			i = next
			continue
		}
		if isAppValue(name, opts.SessionField) {
			// --session-field SESSION_ID names %{SESSION_ID}e or
			// %{SESSION_ID}n: Apache's directives for a value the
			// application sets (an environment variable, a note).
			name = opts.SessionField
		}
		if lit.Len() > 0 {
			parts = append(parts, tmplPart{lit: lit.String()})
			lit.Reset()
		}
		parts = append(parts, tmplPart{name: name, as: format[i:next]})
		i = next
	}
	if lit.Len() > 0 {
		parts = append(parts, tmplPart{lit: lit.String()})
	}
	t, err := compileTemplate(parts, opts, sessionName(opts.SessionField))
	if err != nil {
		return nil, fmt.Errorf("apache log format: %w", err)
	}
	return t, nil
}

// isAppValue reports whether the directive named name (as apacheDirective
// names it) is %{field}e or %{field}n, for a bare --session-field.
func isAppValue(name, field string) bool {
	if field == "" || field[0] == '%' || field[0] == '$' {
		return false
	}
	v, ok := strings.CutPrefix(name, "apache_e_")
	if !ok {
		v, ok = strings.CutPrefix(name, "apache_n_")
	}
	return ok && v == field
}

// apacheDirective reads one %... directive at format[i] and returns the
// nginx-style name of what it logs ("" when Bulwark has no use for it).
func apacheDirective(format string, i int) (name string, next int, err error) {
	j := i + 1
	// Modifiers: status conditions ("!200,304") and < > (original or final request).
	for j < len(format) && (format[j] == '!' || format[j] == ',' || format[j] == '<' || format[j] == '>' || (format[j] >= '0' && format[j] <= '9')) {
		j++
	}
	arg := ""
	if j < len(format) && format[j] == '{' {
		end := strings.IndexByte(format[j:], '}')
		if end < 0 {
			return "", 0, fmt.Errorf("%%{ at column %d is not closed with }", i+1)
		}
		arg = format[j+1 : j+end]
		j += end + 1
	}
	if j >= len(format) {
		return "", 0, fmt.Errorf("%% at column %d is not followed by a directive letter", i+1)
	}
	letter := format[j]
	next = j + 1
	switch letter {
	case 'h':
		return "remote_host", next, nil
	case 'a':
		if arg == "c" { // the connection's peer: the client unless %a is logged
			return "remote_host", next, nil
		}
		return "remote_addr", next, nil
	case 't':
		switch arg {
		case "":
			return "time_bracketed", next, nil
		case "%d/%b/%Y:%H:%M:%S %z":
			return "time_local", next, nil
		case "sec", "begin:sec", "end:sec":
			return "msec", next, nil
		}
		return "apache_time_" + arg, next, nil // an unsupported layout: skipped
	case 'r':
		return "request", next, nil
	case 's':
		return "status", next, nil
	case 'b', 'B':
		return "body_bytes_sent", next, nil
	case 'O':
		return "bytes_sent", next, nil
	case 'D':
		return "request_time_us", next, nil
	case 'T':
		switch arg {
		case "ms":
			return "request_time_ms", next, nil
		case "us":
			return "request_time_us", next, nil
		}
		return "request_time", next, nil
	case 'v', 'V':
		return "server_name", next, nil
	case 'm':
		return "request_method", next, nil
	case 'U':
		return "uri", next, nil
	case 'q':
		return "apache_query_string", next, nil
	case 'H':
		return "server_protocol", next, nil
	case 'i':
		if arg == "" {
			return "", 0, fmt.Errorf("%%i at column %d needs a header name: %%{User-Agent}i", i+1)
		}
		return "http_" + strings.ReplaceAll(strings.ToLower(arg), "-", "_"), next, nil
	case 'C':
		if arg == "" {
			return "", 0, fmt.Errorf("%%C at column %d needs a cookie name: %%{sid}C", i+1)
		}
		return "cookie_" + arg, next, nil
	case 'x':
		switch strings.ToUpper(arg) {
		case "SSL_PROTOCOL":
			return "ssl_protocol", next, nil
		case "SSL_CIPHER":
			return "ssl_cipher", next, nil
		}
		return "apache_x_" + arg, next, nil
	case '^': // %^ti, %^to: trailers
		if next+2 > len(format) {
			return "", 0, fmt.Errorf("%%^ at column %d wants ti or to", i+1)
		}
		return "apache_trailer_" + arg, next + 2, nil
	case 'A', 'e', 'f', 'I', 'k', 'l', 'L', 'n', 'o', 'p', 'P', 'R', 'S', 'u', 'X':
		return "apache_" + string(letter) + "_" + arg, next, nil
	}
	return "", 0, fmt.Errorf("unknown directive %%%c at column %d", letter, i+1)
}
