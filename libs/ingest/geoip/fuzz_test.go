package geoip

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
)

// FuzzCompile: any file maxminddb opens compiles into an index or fails
// with an error, never a panic, and the index answers as maxminddb's own
// lookups do wherever those succeed.
func FuzzCompile(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.mmdb")
	writeNets(f, path, mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", RecordSize: 24, IPVersion: 6, IncludeReservedNetworks: true},
		[]netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.128/25"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("2001:db8:0:1:8000::/65")},
		func(i int) mmdbtype.Map { return asn(uint32(64500+i), "Org") })
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	probes := []netip.Addr{
		netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.200"), netip.MustParseAddr("203.0.113.1"),
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8:0:1:8000::1"), netip.MustParseAddr("2001:db8:0:1::1"),
		netip.MustParseAddr("2002:c633:6407::1"), netip.MustParseAddr("::1"), netip.MustParseAddr("0.0.0.0"),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := maxminddb.OpenBytes(data)
		if err != nil {
			return
		}
		s, err := compile(r)
		if err != nil {
			return
		}
		ix := newIndex(s, nil)
		w := &walker{asn: r, decoded: map[uintptr]Info{}}
		for _, a := range probes {
			got := ix.lookup(a.Unmap())
			res := r.Lookup(a)
			if res.Err() != nil {
				continue
			}
			if want := w.lookup(a); got != want {
				t.Errorf("lookup(%s) = %+v, maxminddb says %+v", a, got, want)
			}
		}
	})
}
