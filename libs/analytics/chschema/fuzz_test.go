package chschema

import (
	"strings"
	"testing"
)

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"18.16.1", "24.8.1.2684", "19", "", "x.y", "19.6", "-1.2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		major, minor, err := parseVersion(v)
		if err == nil && !strings.HasPrefix(v, strings.SplitN(v, ".", 2)[0]) {
			t.Fatalf("%q -> %d.%d", v, major, minor)
		}
	})
}

func FuzzSplitStatements(f *testing.F) {
	for _, s := range []string{"CREATE TABLE a (x UInt8);\nCREATE TABLE b (y UInt8);\n", "-- c\nSELECT 1", ";;\n;", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, s := range splitStatements(text) {
			if strings.TrimSpace(s) == "" {
				t.Fatalf("empty statement from %q", text)
			}
		}
	})
}
