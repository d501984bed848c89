package logparse

import (
	"testing"
	"unicode/utf8"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

func TestEscape(t *testing.T) {
	f := func(in, want string, changed bool) {
		t.Helper()
		var c common
		got, ch := c.escape(in)
		if got != want || ch != changed {
			t.Fatalf("escape(%q) = %q, %v; want %q, %v", in, got, ch, want, changed)
		}
	}
	f("", "", false)
	f("/shop?q=1", "/shop?q=1", false)
	f("/café ünï €", "/café ünï €", false)
	f("\uFFFD", "\uFFFD", false) // a real replacement character is text
	f("G\x00T", `G\x00T`, true)
	f("a\tb\r\n", `a\x09b\x0D\x0A`, true)
	f("\x7f", `\x7F`, true)
	f("caf\xe9", `caf\xE9`, true)
	f("\xc0\xaf", `\xC0\xAF`, true)             // overlong '/'
	f("\xed\xa0\x80", `\xED\xA0\x80`, true)     // a surrogate
	f("ok\xf0\x9f\x98", `ok\xF0\x9F\x98`, true) // a cut 4-byte sequence
}

// Every request field with a bad byte marks the event malformed; other
// fields are only escaped.
func TestFinishMalformed(t *testing.T) {
	var c common
	ev := &eventpb.RequestEvent{Method: "GET", Path: "/x", UserAgent: "ua", Host: "h\x00"}
	c.finish(ev)
	if ev.Malformed != "" || ev.Host != `h\x00` {
		t.Fatalf("host only: %v", ev)
	}
	for _, set := range []func(*eventpb.RequestEvent){
		func(e *eventpb.RequestEvent) { e.Method = "G\x00T" },
		func(e *eventpb.RequestEvent) { e.Path = "/\xff" },
		func(e *eventpb.RequestEvent) { e.Query = "a=\x01" },
		func(e *eventpb.RequestEvent) { e.Protocol = "HTTP/1.1\r" },
		func(e *eventpb.RequestEvent) { e.UserAgent = "\xfe" },
		func(e *eventpb.RequestEvent) { e.Referer = "http://\xe4/" },
	} {
		var c common
		ev := &eventpb.RequestEvent{Method: "GET", Path: "/x"}
		set(ev)
		c.finish(ev)
		if ev.Malformed != MalformedBadBytes {
			t.Fatalf("not malformed: %v", ev)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "/a", "G\x00T", "caf\xe9", "\xf0\x9f\x98", "\\x41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var c common
		got, changed := c.escape(s)
		if !utf8.ValidString(got) {
			t.Fatalf("escape(%q) = %q is not UTF-8", s, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] == 0x7f {
				t.Fatalf("escape(%q) = %q has a control byte", s, got)
			}
		}
		if changed == (got == s) {
			t.Fatalf("escape(%q) = %q, changed %v", s, got, changed)
		}
	})
}

func FuzzPrintableASCIIPrefix(f *testing.F) {
	for _, s := range []string{"", "GET /index.html HTTP/1.1", "Mozilla/5.0 (X11)\x7f", "abcdefgh\x1fz", "abcdefghij\xc3\xa9", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := 0
		for want < len(s) && s[want] >= 0x20 && s[want] < 0x7f {
			want++
		}
		// The word-at-a-time scan may stop at the start of the word holding
		// the first other byte, never past it.
		if got := printableASCIIPrefix(s); got > want || want-got >= 8 {
			t.Fatalf("printableASCIIPrefix(%q) = %d, the printable prefix is %d", s, got, want)
		}
	})
}
