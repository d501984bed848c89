package logparse

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	p := mustNew(t, FormatNginx, Options{LogFormat: `$remote_addr [$time_local] $status`})
	input := "192.0.2.1 [21/Nov/2026:10:00:03 +0000] 200\n\n" +
		"192.0.2.1 [21/Nov/2026:10:00:03 +0000] 2x0\r\n" +
		"192.0.2.2 [21/Nov/2026:10:00:04 +0000] 404\n" +
		"garbage\n" +
		"192.0.2.3 [21/Nov/2026:10:00:05 +0000] 500" // no final newline
	for _, tc := range []struct {
		maxLines, maxErrors                int
		lines, parsed, rejected, nerrs, at int
	}{
		{0, 10, 5, 3, 2, 2, 3},
		{2, 10, 2, 1, 1, 1, 3},
		{0, 1, 5, 3, 2, 1, 3},
	} {
		res, err := Check(strings.NewReader(input), p, tc.maxLines, tc.maxErrors)
		if err != nil {
			t.Fatal(err)
		}
		if res.Lines != tc.lines || res.Parsed != tc.parsed || res.Rejected != tc.rejected || len(res.Errors) != tc.nerrs {
			t.Fatalf("%+v: got %+v", tc, res)
		}
		if res.Errors[0].Line != tc.at || !strings.Contains(res.Errors[0].String(), "line 3: bad_syntax: nginx: bad syntax in $status at column 40") {
			t.Fatalf("first error %s", res.Errors[0])
		}
		if res.First == nil || res.First.ClientIp != "192.0.2.1" || res.Matches() {
			t.Fatalf("first %v, matches %v", res.First, res.Matches())
		}
	}
	long := strings.Repeat("x", 3<<20) + "\n192.0.2.1 [21/Nov/2026:10:00:03 +0000] 200\n"
	res, err := Check(strings.NewReader(long), p, 0, 5)
	if err != nil || res.Lines != 2 || res.Parsed != 1 || Reason(res.Errors[0].Err) != "too_long" {
		t.Fatalf("long line: %+v, %v", res, err)
	}
}
