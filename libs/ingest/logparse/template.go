package logparse

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/bulwarkhq/bulwark/libs/platform/cookies"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// A template is a log format compiled once: literal text alternating with
// fields, each field knowing what it holds. nginx log_format strings, Apache
// LogFormat strings and the fixed text formats of load balancers and proxies
// all compile to one; a single matcher then walks every line, left to right,
// finding each field's end by the literal that follows it. Written by hand
// for the same reason as the nginx scanner: a regular expression per line
// runs an order of magnitude slower and allocates for every capture.

// fieldKind says what a field holds and where it goes in the event.
type fieldKind uint8

const (
	kSkip           fieldKind = iota // logged but not used
	kRemoteAddr                      // the socket peer ($remote_addr, %a)
	kRemoteHost                      // Apache %h: the peer unless %a is also logged
	kRemoteAddrPort                  // "ip:port" ("[v6]:port")
	kTimeLocal                       // 02/Jan/2006:15:04:05 -0700
	kTimeBracketed                   // [02/Jan/2006:15:04:05 -0700] (Apache %t)
	kTimeISO                         // RFC 3339
	kTimeEpoch                       // seconds since the epoch, with fraction ($msec)
	kRequest                         // "GET /path?q HTTP/1.1"
	kMethod
	kRequestURI   // path?query
	kURI          // path only
	kArgs         // query without '?'
	kQueryApache  // "?query" or ""
	kProtocol     // HTTP/1.1
	kStatus       // 3 digits
	kBodyBytes    // response body bytes; "-" = 0
	kBytesSent    // response bytes with headers, used when no body count is logged
	kSeconds      // request time in seconds, with fraction
	kMillis       // request time in milliseconds
	kMicros       // request time in microseconds
	kReferer      //
	kUserAgent    //
	kXFF          // X-Forwarded-For
	kAcceptLang   //
	kCookieHeader // the whole Cookie header: the session cookie is looked up in it
	kSession      // the session id itself
	kHost         // the Host header / $host
	kServerName   // the virtual host name, used when no Host is logged
	kTLSVersion
	kTLSCipher
	kJA3
	kJA4
	kNanos         // request time in nanoseconds (Traefik's Duration)
	kCDNCountry    // ISO country code the CDN found
	kTimeDateTab   // CloudFront: "2019-12-04\t21:02:31", UTC
	kRemoteAddrAlt // a second spelling of the peer, used when kRemoteAddr is absent
	kSecFetchMode
	kSecFetchDest
	kTimeEpochAuto     // an integer epoch whose unit its size tells (s, ms, µs, ns), or RFC 3339 (Cloudflare)
	kOriginMillis      // milliseconds the origin took: the request time only when no other duration is logged
	kCDNASN            // AS number the CDN found
	kCDNBotScore       // the CDN's bot score, 1 (bot) to 99 (human); 0 or out of range: none
	kCDNVerifiedBot    // the CDN's verified-bot category: any non-empty value is a verified bot
	kCDNRequestID      // the CDN's request id (Cloudflare's RayID)
	kCDNSecurityAction // what the CDN's security rules did ("unknown": nothing)
)

// templateField is one field and the literal text that follows it.
type templateField struct {
	kind  fieldKind
	name  string // as written in the format, for errors ("$status", "%>s")
	width int    // fixed width, 0 when the following literal ends the field
	after []byte // literal text after the field ("" for the last one: to the end of the line)
	// quoted fields may hold the closing quote escaped (Apache's \"), so
	// their end is searched past backslash escapes.
	quoted bool
	// urlEncoded values (CloudFront's user agent, referer, cookie) are
	// percent-decoded.
	urlEncoded bool
}

// template is a compiled format.
type template struct {
	prefix []byte // literal text before the first field
	fields []templateField
	// trailing lets a line carry more after the last field's literal (AWS
	// adds fields to its logs over time); user formats match whole lines.
	trailing bool
	// headerLines starting with '#' are a file's header (CloudFront).
	headerLines bool
	// absoluteURL: the request target is a full URL (AWS ALB) whose host
	// and path are split.
	absoluteURL bool
}

// templateParser parses lines of a compiled template. It embeds
// nginxParser for its escape decoding (nginx's \xHH, Apache's \" and \\)
// and the shared begin/setClient helpers, so that any change to how the
// built-in formats treat text applies to custom formats too.
type templateParser struct {
	nginxParser
	t              *template
	acceptLanguage string
	botScore       uint32
	verifiedBot    bool
	// jsonText: values come decoded from JSON, so backslashes are text.
	jsonText bool
	// remoteField names the client address in errors; remoteRequired
	// refuses a line without one instead of taking the last
	// X-Forwarded-For hop as the peer.
	remoteField    string
	remoteRequired bool
}

func newTemplateParser(c common, t *template) *templateParser {
	return &templateParser{nginxParser: nginxParser{common: c}, t: t, remoteField: "remote_addr"}
}

// newCustom compiles Options.LogFormat for format nginx or apache.
func newCustom(c common) (Parser, error) {
	var t *template
	var err error
	if c.format == FormatApache {
		t, err = compileApache(c.opts.LogFormat, c.opts)
	} else {
		t, err = compileNginx(c.opts.LogFormat, c.opts)
	}
	if err != nil {
		return nil, err
	}
	return newTemplateParser(c, t), nil
}

// lineState collects what a line gives before the event is finished.
type lineState struct {
	remote, remoteHost, remoteAlt string
	xff, cookie                   string
	request, uri, args            string
	haveRequestURI                bool
	host, serverName              string
	haveBody                      bool
	haveDuration                  bool
	// timeRank is the precision of the time taken so far: when a line logs
	// several, the most precise wins (epoch over ISO 8601 over the rest).
	timeRank uint8
}

// timeRank is the precision of a time field.
func timeRank(k fieldKind) uint8 {
	switch k {
	case kTimeEpoch, kTimeEpochAuto:
		return 3
	case kTimeISO:
		return 2
	}
	return 1
}

// setTime takes ts as the event's time unless a more precise one was taken.
func setTime(ev *eventpb.RequestEvent, st *lineState, k fieldKind, ts int64, haveTime *bool) {
	if rank := timeRank(k); rank >= st.timeRank {
		ev.TimeUnixNano, st.timeRank, *haveTime = ts, rank, true
	}
}

func (p *templateParser) Parse(line []byte, ev *eventpb.RequestEvent) error {
	if err := p.begin(line, ev); err != nil {
		return err
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	t := p.t
	if t.headerLines && len(line) > 0 && line[0] == '#' {
		return perr(p.format, ErrHeader, "", 1, "a header line (#Version, #Fields), not a request")
	}
	if !bytes.HasPrefix(line, t.prefix) {
		return perr(p.format, ErrBadSyntax, t.fields[0].name, 1, fmt.Sprintf("want the line to start with %q", t.prefix))
	}
	var st lineState
	haveTime := false
	pos := len(t.prefix)
	for fi := range t.fields {
		fd := &t.fields[fi]
		end, err := p.fieldEnd(line, pos, fd, fi == len(t.fields)-1)
		if err != nil {
			return err
		}
		raw := line[pos:end]
		if err := p.assign(fd, raw, pos, ev, &st, &haveTime); err != nil {
			return err
		}
		pos = end + len(fd.after)
	}
	if pos != len(line) && !t.trailing {
		return perr(p.format, ErrBadSyntax, "", pos+1, "unexpected data after the last field")
	}
	if !haveTime {
		return perr(p.format, ErrBadSyntax, "time", 0, "no time was logged on this line")
	}
	return p.finish(ev, &st, t.absoluteURL)
}

// fieldEnd finds where the field starting at pos ends and checks that the
// literal after it is there.
func (p *templateParser) fieldEnd(line []byte, pos int, fd *templateField, last bool) (int, error) {
	if fd.width > 0 {
		end := pos + fd.width
		if end > len(line) || !bytes.HasPrefix(line[end:], fd.after) {
			return 0, perr(p.format, ErrBadSyntax, fd.name, pos+1, fmt.Sprintf("want %d characters followed by %q", fd.width, fd.after))
		}
		return end, nil
	}
	if len(fd.after) == 0 {
		return len(line), nil
	}
	if last && !p.t.trailing {
		// The last literal closes the line: anything before it, spaces
		// included, is the field.
		if !bytes.HasSuffix(line[pos:], fd.after) {
			return 0, perr(p.format, ErrBadSyntax, fd.name, pos+1, fmt.Sprintf("want the line to end with %q", fd.after))
		}
		return len(line) - len(fd.after), nil
	}
	end := findLiteral(line, pos, fd.after, fd.quoted)
	if end < 0 {
		return 0, perr(p.format, ErrBadSyntax, fd.name, pos+1, fmt.Sprintf("want the value followed by %q", fd.after))
	}
	return end, nil
}

// findLiteral returns the index of the first lit in line at or after pos;
// in a quoted field a match preceded by an odd run of backslashes is an
// escaped quote and is passed over.
func findLiteral(line []byte, pos int, lit []byte, quoted bool) int {
	for i := pos; i <= len(line)-len(lit); {
		k := bytes.IndexByte(line[i:len(line)-len(lit)+1], lit[0])
		if k < 0 {
			return -1
		}
		k += i
		if len(lit) > 1 && !bytes.Equal(line[k+1:k+len(lit)], lit[1:]) {
			i = k + 1
			continue
		}
		if quoted {
			bs := 0
			for j := k - 1; j >= pos && line[j] == '\\'; j-- {
				bs++
			}
			if bs%2 == 1 {
				i = k + 1
				continue
			}
		}
		return k
	}
	return -1
}

// text decodes a logged value: "-" is nginx's and Apache's "absent", and
// backslash escapes are decoded as for the combined format.
func (p *templateParser) text(raw []byte) string {
	if len(raw) == 1 && raw[0] == '-' {
		return ""
	}
	if p.jsonText || bytes.IndexByte(raw, '\\') < 0 {
		return b2s(raw)
	}
	s, clean := p.unescape(raw)
	if !clean {
		p.badBytes = true // scored as malformed_request, like the built-in parser
	}
	return s
}

// urlText percent-decodes a value into the scratch buffer when the result
// is clean text, and keeps it as logged otherwise (as unescape does).
func (p *templateParser) urlText(raw []byte) string {
	if len(raw) == 1 && raw[0] == '-' {
		return ""
	}
	if bytes.IndexByte(raw, '%') < 0 {
		return b2s(raw)
	}
	mark := len(p.scratch)
	out := p.scratch
	for j := 0; j < len(raw); j++ {
		c := raw[j]
		if c == '%' && j+2 < len(raw) {
			hi, ok1 := unhex(raw[j+1])
			lo, ok2 := unhex(raw[j+2])
			if b := hi<<4 | lo; ok1 && ok2 && b >= 0x20 && b != 0x7f {
				out = append(out, b)
				j += 2
				continue
			}
		}
		out = append(out, c)
	}
	if !utf8.Valid(out[mark:]) {
		return p.asLogged(raw, mark)
	}
	p.scratch = out
	return b2s(out[mark:])
}

func (p *templateParser) assign(fd *templateField, raw []byte, pos int, ev *eventpb.RequestEvent, st *lineState, haveTime *bool) error {
	f := p.format
	col := pos + 1
	if fd.urlEncoded {
		raw = s2b(p.urlText(raw))
	}
	switch fd.kind {
	case kTimeDateTab, kTimeLocal, kTimeBracketed, kTimeISO, kTimeEpoch, kTimeEpochAuto:
		if timeRank(fd.kind) < st.timeRank {
			return nil // a more precise time was taken: this one is not read
		}
	}
	switch fd.kind {
	case kSkip:
	case kRemoteAddr:
		st.remote = dash(b2s(raw))
	case kRemoteHost:
		st.remoteHost = dash(b2s(raw))
	case kRemoteAddrAlt:
		st.remoteAlt = stripPort(dash(b2s(raw)))
	case kRemoteAddrPort:
		st.remote = stripPort(dash(b2s(raw)))
	case kTimeDateTab:
		s := b2s(raw)
		if len(s) != 19 || s[10] != '\t' {
			return perr(f, ErrBadSyntax, fd.name, col, "want yyyy-mm-dd<TAB>hh:mm:ss")
		}
		n := len(p.scratch)
		p.scratch = append(p.scratch, s...)
		p.scratch[n+10] = 'T'
		p.scratch = append(p.scratch, 'Z')
		ts, why := parseRFC3339(b2s(p.scratch[n:]))
		p.scratch = p.scratch[:n]
		if why != "" {
			return p.timeErr(fd.name, col, why)
		}
		setTime(ev, st, fd.kind, ts, haveTime)
	case kCDNCountry:
		ev.CdnCountry = p.upper(p.text(raw)) // Cloudflare logs us for US
	case kTimeLocal, kTimeBracketed:
		s := b2s(raw)
		if fd.kind == kTimeBracketed {
			if len(s) != nginxTimeLen+2 || s[0] != '[' || s[len(s)-1] != ']' {
				return perr(f, ErrBadSyntax, fd.name, col, "want [dd/Mon/yyyy:hh:mm:ss +zzzz]")
			}
			s = s[1 : len(s)-1]
		}
		ts, why := parseTimeLocal(s)
		if why != "" {
			return p.timeErr(fd.name, col, why)
		}
		setTime(ev, st, fd.kind, ts, haveTime)
	case kTimeISO:
		ts, why := p.parseISO(b2s(raw))
		if why != "" {
			return p.timeErr(fd.name, col, why)
		}
		setTime(ev, st, fd.kind, ts, haveTime)
	case kTimeEpoch:
		ts, why := parseEpochSeconds(b2s(raw))
		if why != "" {
			return p.timeErr(fd.name, col, why)
		}
		setTime(ev, st, fd.kind, ts, haveTime)
	case kTimeEpochAuto:
		s := b2s(raw)
		var ts int64
		var why string
		if n, ok := parseUint(s); ok && n <= 1<<63-1 {
			ts, why = epochAuto(int64(n))
		} else {
			ts, why = p.parseISO(s)
		}
		if why != "" { // not a time in any of the formats: a bad time, whatever its shape
			return perr(f, ErrBadTime, fd.name, col, why)
		}
		setTime(ev, st, fd.kind, ts, haveTime)
	case kRequest:
		st.request = p.text(raw)
	case kMethod:
		ev.Method = p.text(raw)
	case kRequestURI:
		st.uri, st.haveRequestURI = p.text(raw), true
	case kURI:
		if !st.haveRequestURI {
			st.uri = p.text(raw)
		}
	case kArgs:
		st.args = p.text(raw)
	case kQueryApache:
		s := p.text(raw)
		if len(s) > 0 && s[0] == '?' {
			s = s[1:]
		}
		st.args = s
	case kProtocol:
		ev.Protocol = p.text(raw)
	case kStatus:
		s := b2s(raw)
		if s == "-" {
			break
		}
		n, ok := parseStatus(s)
		if !ok {
			return perr(f, ErrBadSyntax, fd.name, col, "want a 3-digit status code")
		}
		ev.Status = n
	case kBodyBytes, kBytesSent:
		s := b2s(raw)
		if s == "-" {
			break
		}
		n, ok := parseUint(s)
		if !ok {
			return perr(f, ErrBadSyntax, fd.name, col, "want a byte count")
		}
		if fd.kind == kBodyBytes {
			ev.ResponseBytes, st.haveBody = n, true
		} else if !st.haveBody {
			ev.ResponseBytes = n
		}
	case kSeconds, kMillis, kMicros, kNanos, kOriginMillis:
		s := b2s(raw)
		// Units some logs spell out: Traefik's "3ms", Google's "0.05s".
		if fd.kind == kMillis && strings.HasSuffix(s, "ms") {
			s = s[:len(s)-2]
		} else if fd.kind == kSeconds && strings.HasSuffix(s, "s") {
			s = s[:len(s)-1]
		}
		if s == "-" || s == "-1" || s == "" { // -1: AWS's "not dispatched"
			break
		}
		v, ok := parseSeconds(s)
		if !ok {
			return perr(f, ErrBadSyntax, fd.name, col, "want a duration such as 0.042")
		}
		p.setDuration(ev, st, fd.kind, v)
	case kReferer:
		ev.Referer = p.text(raw)
	case kUserAgent:
		ev.UserAgent = p.text(raw)
	case kXFF:
		st.xff = p.text(raw)
	case kAcceptLang:
		if s := p.text(raw); s != "" {
			p.acceptLanguage = s
			ev.AcceptLanguage = &p.acceptLanguage
		}
	case kCookieHeader:
		st.cookie = p.text(raw)
	case kSession:
		ev.SessionId = p.text(raw)
	case kHost:
		st.host = p.text(raw)
	case kServerName:
		st.serverName = p.text(raw)
	case kTLSVersion:
		if s := p.text(raw); s != "none" { // Cloudflare's plain HTTP
			ev.TlsVersion = s
		}
	case kTLSCipher:
		if s := p.text(raw); s != "none" && s != "NONE" {
			ev.TlsCipher = s
		}
	case kSecFetchMode:
		ev.SecFetchMode = p.text(raw)
	case kSecFetchDest:
		ev.SecFetchDest = p.text(raw)
	case kCDNASN:
		s := b2s(raw)
		if s == "-" || s == "" {
			break
		}
		n, ok := parseUint(s)
		if !ok || n > 1<<32-1 {
			return perr(f, ErrBadSyntax, fd.name, col, "want an AS number")
		}
		ev.CdnAsn = uint32(n)
	case kCDNBotScore:
		s := b2s(raw)
		if s == "-" || s == "" {
			break
		}
		n, ok := parseUint(s)
		if !ok {
			return perr(f, ErrBadSyntax, fd.name, col, "want a bot score")
		}
		if n >= 1 && n <= 100 { // 0: the CDN computed none
			p.botScore = uint32(n)
			ev.CdnBotScore = &p.botScore
		}
	case kCDNVerifiedBot:
		p.verifiedBot = p.text(raw) != ""
		ev.CdnVerifiedBot = &p.verifiedBot
	case kCDNRequestID:
		ev.CdnRequestId = p.text(raw)
	case kCDNSecurityAction:
		if s := p.text(raw); s != "unknown" {
			ev.CdnSecurityAction = s
		}
	case kJA3:
		ev.Ja3 = p.text(raw)
	case kJA4:
		ev.Ja4 = p.text(raw)
	}
	return nil
}

// setDuration records the request time; an origin's duration counts only
// when nothing nearer to what the client waited is logged (Cloudflare: the
// time to first byte; the origin's is 0 for cache hits).
func (p *templateParser) setDuration(ev *eventpb.RequestEvent, st *lineState, k fieldKind, v float64) {
	switch k {
	case kMillis, kOriginMillis:
		v /= 1e3
	case kMicros:
		v /= 1e6
	case kNanos:
		v /= 1e9
	}
	if k == kOriginMillis && st.haveDuration {
		return
	}
	st.haveDuration = st.haveDuration || k != kOriginMillis
	p.reqTime = v
	ev.RequestTimeSeconds = &p.reqTime
}

// upper returns s in upper case, in the scratch buffer when it had to change.
func (p *templateParser) upper(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'a' || s[i] > 'z') {
		i++
	}
	if i == len(s) {
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

// timeErr is a time field's error. In text formats a value of the wrong
// shape ("want ...") more likely means the line does not match the format
// than a bad date; a JSON value is delimited, so it is a bad time.
func (p *templateParser) timeErr(field string, col int, why string) error {
	sentinel := ErrBadTime
	if why[0] == 'w' && !p.jsonText {
		sentinel = ErrBadSyntax
	}
	return perr(p.format, sentinel, field, col, why)
}

// finish fills what depends on several fields and resolves the client.
func (p *templateParser) finish(ev *eventpb.RequestEvent, st *lineState, absoluteURL bool) error {
	if st.request != "" {
		method, protocol := ev.Method, ev.Protocol
		if !splitRequest(st.request, ev) {
			p.badLine = true
		}
		if ev.Method == "" && method != "" { // a separately logged method wins over a junk request line
			ev.Method = method
		}
		if ev.Protocol == "" {
			ev.Protocol = protocol
		}
	}
	switch {
	case st.haveRequestURI:
		ev.Path, ev.Query = splitURI(st.uri)
	case st.uri != "":
		ev.Path, ev.Query = st.uri, st.args
	}
	ev.Host = st.host
	if ev.Host == "" {
		ev.Host = st.serverName
	}
	if absoluteURL {
		splitAbsolute(ev)
	}
	if ev.SessionId == "" && p.opts.SessionCookie != "" && st.cookie != "" {
		ev.SessionId = cookies.Value(st.cookie, p.opts.SessionCookie)
	}
	remote := st.remote
	if remote == "" {
		remote = st.remoteAlt
	}
	if remote == "" {
		remote = st.remoteHost
	}
	xff := st.xff
	if remote == "" && xff == "" && ev.SessionId != "" {
		// An anonymised log (research datasets, privacy-minded sites log the
		// client as "-"): the session id still names who sent the request,
		// so the line is an event without a client address, counted by its
		// session: subject only (ARCHITECTURE.md, "Anonymised clients").
		return p.common.finish(ev)
	}
	if remote == "" && p.remoteRequired {
		return perr(p.format, ErrBadIP, p.remoteField, 0, "missing")
	}
	if remote == "" && xff == "" {
		return perr(p.format, ErrNoClient, p.remoteField, 0, "no client address (logged as - or empty), no X-Forwarded-For and no session id: nothing names who sent this request")
	}
	if remote == "" {
		// No socket address logged (Envoy's default format): the proxy
		// appended the peer it saw to X-Forwarded-For, so the last hop is
		// the peer and the rest is what that peer claimed.
		if i := strings.LastIndexByte(xff, ','); i >= 0 {
			remote, xff = strings.TrimSpace(xff[i+1:]), xff[:i]
		} else {
			remote, xff = strings.TrimSpace(xff), ""
		}
	}
	if err := p.setClient(ev, remote, xff, p.remoteField, 0); err != nil {
		return err
	}
	return p.common.finish(ev) // escapes the text fields, as every format does
}

// stripPort turns "1.2.3.4:5678" or "[2001:db8::1]:443" into the address;
// anything else is returned as is for the address check to judge.
func stripPort(s string) string {
	if len(s) > 0 && s[0] == '[' {
		if i := strings.IndexByte(s, ']'); i > 0 {
			return s[1:i]
		}
		return s
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.IndexByte(s[:i], ':') < 0 {
		return s[:i]
	}
	return s
}

// splitAbsolute turns a path logged as a full URL ("http://host:80/a")
// into host and path; the URL's host is what the client asked for, so it
// wins over a host field.
func splitAbsolute(ev *eventpb.RequestEvent) {
	rest, ok := strings.CutPrefix(ev.Path, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(ev.Path, "http://"); !ok {
			return
		}
	}
	host, path := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ']') < i {
		host = host[:i] // the port
	}
	if host != "" {
		ev.Host = host
	}
	ev.Path = path
}

// parseISO parses RFC 3339, also with a zone written +hhmm (strftime's %z,
// which Fastly's documented log format uses).
func (p *templateParser) parseISO(s string) (int64, string) {
	if n := len(s); n >= 24 && (s[n-5] == '+' || s[n-5] == '-') && s[n-3] != ':' {
		m := len(p.scratch)
		p.scratch = append(p.scratch, s[:n-2]...)
		p.scratch = append(p.scratch, ':')
		p.scratch = append(p.scratch, s[n-2:]...)
		ts, why := parseRFC3339(b2s(p.scratch[m:]))
		p.scratch = p.scratch[:m]
		return ts, why
	}
	return parseRFC3339(s)
}

func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
