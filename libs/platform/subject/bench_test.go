package subject_test

import (
	"net/netip"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// BenchmarkParse is what the verdict topic readers now pay per record to
// refuse keys that are no subject; the baseline is netip.ParseAddr of the
// same address, which the table's own parse of an ip: key costs anyway.
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"ip", "ip:203.0.113.7"},
		{"ip6", "ip:2001:db8:a6d1:9b3:a737:4bd4:db4a:43a4"},
		{"net", "net:203.0.113.0/24"},
		{"session", "session:9f86d081884c7d659a2feaa0c55ad015"},
		{"session_256", "session:" + string(make256())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := subject.Parse(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("baseline_netip_ParseAddr", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := netip.ParseAddr("203.0.113.7"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func make256() []byte {
	id := make([]byte, subject.MaxSessionLen)
	for i := range id {
		id[i] = 'a' + byte(i%26)
	}
	return id
}
