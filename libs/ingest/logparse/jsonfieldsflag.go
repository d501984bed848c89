package logparse

import (
	"fmt"
	"strings"
)

// ParseJSONFields reads a --json-fields value, "remote_addr=client,
// time_iso8601=ts": the field Bulwark reads, '=', the key the log uses.
func ParseJSONFields(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		name, key, ok := strings.Cut(strings.TrimSpace(pair), "=")
		name, key = strings.TrimSpace(name), strings.TrimSpace(key)
		if !ok || name == "" || key == "" {
			return nil, fmt.Errorf("JSON field mapping %q: want field=key, e.g. remote_addr=client", pair)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("JSON field mapping: %s is mapped twice", name)
		}
		m[name] = key
	}
	return m, nil
}
