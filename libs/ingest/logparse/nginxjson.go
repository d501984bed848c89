package logparse

import (
	"fmt"
	"strings"
)

// nginx-json reads the log_format in deploy/nginx/log-format-json.conf:
// the keys are nginx's variable names and mean what they mean in a text
// log_format (nginxVars); unknown keys are ignored, so operators may log
// more. Required: remote_addr and a time (msec, time_iso8601 or
// time_local; the most precise one logged wins). Options.JSONFields
// renames keys for logs written by something else.

// jsonFieldNames are the fields the nginx-json parser reads, as named in a
// --json-fields mapping.
var jsonFieldNames = []string{"msec", "time_iso8601", "time_local", "remote_addr", "http_x_forwarded_for",
	"host", "request_method", "request_uri", "uri", "args", "request", "server_protocol", "status",
	"body_bytes_sent", "bytes_sent", "request_time", "http_user_agent", "http_referer",
	"http_accept_language", "http_cookie", "ssl_protocol", "ssl_cipher", "ja3", "ja4", "session_id"}

var nginxJSONSpec = func() jsonSpec {
	s := jsonSpec{fields: map[string]fieldKind{}, timeField: "msec", noTime: "no msec, time_iso8601 or time_local field",
		remoteField: "remote_addr", remoteRequired: true}
	names := append([]string{"http_sec_fetch_mode", "http_sec_fetch_dest", "http_ssl_ja3_hash", "http_ssl_ja4"}, jsonFieldNames...)
	for _, name := range names {
		s.fields[name] = nginxVars[name] // session_id: kSkip unless it is the session field
	}
	s.fields["time"] = kTimeISO // what some JSON loggers call it
	return s
}()

func knownJSONField(name string) bool {
	for _, n := range jsonFieldNames {
		if n == name {
			return true
		}
	}
	return false
}

func newNginxJSON(c common) (*jsonParser, error) {
	var renames map[string]string // key the log uses -> the field it stands for
	if len(c.opts.JSONFields) > 0 {
		renames = make(map[string]string, len(c.opts.JSONFields))
		for name, key := range c.opts.JSONFields {
			if name == "" || key == "" {
				return nil, fmt.Errorf("JSON field mapping %q=%q: both names are needed", name, key)
			}
			if !knownJSONField(name) && name != c.opts.SessionField {
				return nil, fmt.Errorf("JSON field mapping %s=%s: %q is not a field Bulwark reads (want one of %s)", name, key, name, strings.Join(jsonFieldNames, ", "))
			}
			if prev, dup := renames[key]; dup {
				return nil, fmt.Errorf("JSON field mapping: key %q is mapped to both %s and %s", key, prev, name)
			}
			renames[key] = name
		}
	}
	return newJSON(c, &nginxJSONSpec, c.opts.SessionField, renames), nil
}
