package simulate

import (
	"net/netip"
	"strconv"
	"time"
)

// Request is one generated HTTP request with the truth about who made it.
type Request struct {
	// At is the event time in Unix nanoseconds.
	At     int64
	IP     netip.Addr
	Method string
	// Target is the request target: path and query, as on the request line.
	Target   string
	Proto    string
	Status   int
	Bytes    int
	Referer  string
	UA       string
	Duration float64 // seconds the server took ($request_time)
	// ForwardedFor is the X-Forwarded-For header as sent, "" when absent.
	ForwardedFor string
	Country      string
	ASN          uint32
	// BotScore is what a CDN's bot management would say (1 bot .. 99 human).
	BotScore    int
	VerifiedBot bool

	Kind Kind
	// Evasive: the bot tries to pass for a person (Config.Evasion).
	Evasive bool
	// Actor numbers the actor (a session, a bot instance) that made the request.
	Actor uint64
}

// Time returns At as a time.Time in UTC.
func (r *Request) Time() time.Time { return time.Unix(0, r.At).UTC() }

// AppendLine appends r as one log line in format f, with a trailing newline.
// host is the shop's host name (Cloudflare's ClientRequestHost); requestTime
// adds nginx's ` $request_time "$http_x_forwarded_for"`.
func AppendLine(dst []byte, r *Request, f Format, host string, requestTime bool) []byte {
	if f == Cloudflare {
		return appendCloudflare(dst, r, host)
	}
	return appendNginx(dst, r, requestTime)
}

// appendNginx writes nginx's combined format:
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
func appendNginx(dst []byte, r *Request, requestTime bool) []byte {
	dst = r.IP.AppendTo(dst)
	dst = append(dst, " - - ["...)
	dst = r.Time().AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
	dst = append(dst, "] \""...)
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = append(dst, r.Target...)
	dst = append(dst, ' ')
	dst = append(dst, r.Proto...)
	dst = append(dst, "\" "...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(r.Bytes), 10)
	dst = append(dst, " \""...)
	dst = appendDash(dst, r.Referer)
	dst = append(dst, "\" \""...)
	dst = appendDash(dst, r.UA)
	dst = append(dst, '"')
	if requestTime {
		dst = append(dst, ' ')
		dst = strconv.AppendFloat(dst, r.Duration, 'f', 3, 64)
		dst = append(dst, " \""...)
		dst = appendDash(dst, r.ForwardedFor)
		dst = append(dst, '"')
	}
	return append(dst, '\n')
}

// appendDash writes s as nginx does inside quotes: "-" for empty, and
// `"` and `\` escaped as \x22 and \x5C (nginx's escape=default).
func appendDash(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xF])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

const hexDigits = "0123456789ABCDEF"

// appendCloudflare writes a Logpush http_requests record with the fields a
// bot-detection job asks for; timestamps are RFC 3339 (timestamp_format=rfc3339).
func appendCloudflare(dst []byte, r *Request, host string) []byte {
	dst = append(dst, `{"ClientIP":"`...)
	dst = r.IP.AppendTo(dst)
	dst = append(dst, `","ClientRequestHost":`...)
	dst = appendJSONString(dst, host)
	dst = append(dst, `,"ClientRequestMethod":"`...)
	dst = append(dst, r.Method...)
	dst = append(dst, `","ClientRequestURI":`...)
	dst = appendJSONString(dst, r.Target)
	dst = append(dst, `,"ClientRequestProtocol":"`...)
	dst = append(dst, r.Proto...)
	dst = append(dst, `","ClientRequestUserAgent":`...)
	dst = appendJSONString(dst, r.UA)
	dst = append(dst, `,"ClientRequestReferer":`...)
	dst = appendJSONString(dst, r.Referer)
	dst = append(dst, `,"EdgeResponseStatus":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `,"EdgeResponseBytes":`...)
	dst = strconv.AppendInt(dst, int64(r.Bytes), 10)
	dst = append(dst, `,"EdgeStartTimestamp":"`...)
	dst = r.Time().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","EdgeEndTimestamp":"`...)
	dst = time.Unix(0, r.At+int64(r.Duration*1e9)).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","RayID":"`...)
	dst = appendRayID(dst, r)
	dst = append(dst, `","ClientCountry":"`...)
	dst = append(dst, r.Country...)
	dst = append(dst, `","ClientASN":`...)
	dst = strconv.AppendUint(dst, uint64(r.ASN), 10)
	dst = append(dst, `,"BotScore":`...)
	dst = strconv.AppendInt(dst, int64(r.BotScore), 10)
	dst = append(dst, `,"VerifiedBotCategory":"`...)
	if r.VerifiedBot {
		dst = append(dst, "Search Engine Crawler"...)
	}
	dst = append(dst, `","EdgeTimeToFirstByteMs":`...)
	dst = strconv.AppendInt(dst, int64(r.Duration*1000), 10)
	dst = append(dst, `,"SecurityAction":""}`...)
	return append(dst, '\n')
}

// appendRayID derives a 16-hex-digit ray id from the request's time and actor,
// so that it is unique enough and still reproducible.
func appendRayID(dst []byte, r *Request) []byte {
	h := uint64(r.At)*0x9E3779B97F4A7C15 ^ r.Actor*0xBF58476D1CE4E5B9
	h ^= h >> 31
	const lower = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, lower[(h>>uint(i))&0xF])
	}
	return dst
}

// appendJSONString quotes s for JSON. Generated strings are printable ASCII,
// so only the two characters JSON insists on need escaping.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}
