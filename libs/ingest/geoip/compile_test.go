package geoip

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeNets writes a MaxMind DB of the given networks, rec(i) the record
// of the i-th.
func writeNets(t testing.TB, path string, opts mmdbwriter.Options, nets []netip.Prefix, rec func(i int) mmdbtype.Map) {
	t.Helper()
	w, err := mmdbwriter.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range nets {
		n := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		if err := w.Insert(n, rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
}

// probes are addresses to compare answers on: inside the networks (and
// their 6to4, Teredo and IPv4-mapped spellings), and anywhere at all.
func probes(rng *rand.Rand, nets []netip.Prefix, n int) []netip.Addr {
	out := make([]netip.Addr, 0, 6*n)
	for range n {
		p := nets[rng.IntN(len(nets))]
		b := p.Addr().AsSlice()
		for j, host := len(b)-1, len(b)*8-p.Bits(); j >= 0 && host > 0; j, host = j-1, host-8 {
			b[j] |= byte(rng.IntN(1 << min(host, 8)))
		}
		a, _ := netip.AddrFromSlice(b)
		out = append(out, a, netip.AddrFrom4([4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}))
		var r6 [16]byte
		for j := range r6 {
			r6[j] = byte(rng.IntN(256))
		}
		r6[0] = 0x20 | r6[0]&0x0f
		out = append(out, netip.AddrFrom16(r6))
		if a.Is4() {
			v4 := a.As4()
			out = append(out,
				netip.AddrFrom16([16]byte{0x20, 0x02, v4[0], v4[1], v4[2], v4[3], 15: 1}),
				netip.AddrFrom16([16]byte{0x20, 0x01, 0, 0, v4[0], v4[1], v4[2], v4[3], 15: 1}),
				netip.AddrFrom16(a.As16()))
		}
	}
	return out
}

// The compiled tables answer exactly as maxminddb's own lookups, for
// IPv6 and IPv4-only databases, with and without the IPv4 aliases.
func TestCompiledMatchesMaxminddb(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	nets := fullNetworks(rng, 8000, 2000)
	var v4 []netip.Prefix
	for i, p := range nets {
		if p.Addr().Is4() {
			v4 = append(v4, p)
			continue
		}
		// Some /64s split finer (DB-IP's ranges make such networks): a
		// /80 and a /128 inside every tenth IPv6 network, with probes in
		// their /64 outside them too.
		if i%10 == 0 {
			b := p.Addr().As16()
			b[7] |= 1
			b[9] = 0x80
			p80, _ := netip.AddrFrom16(b).Prefix(80)
			b[15] = 7
			b[10] = 0x40
			nets = append(nets, p80, netip.PrefixFrom(netip.AddrFrom16(b), 100), netip.PrefixFrom(netip.AddrFrom16(b), 128))
		}
	}
	countries := []string{"DE", "US", "FR", "NL", "JP"}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		opts mmdbwriter.Options
		nets []netip.Prefix
	}{
		{"ipv6", mmdbwriter.Options{RecordSize: 24, IPVersion: 6, IncludeReservedNetworks: true}, nets},
		{"ipv6-no-aliases", mmdbwriter.Options{RecordSize: 28, IPVersion: 6, IncludeReservedNetworks: true, DisableIPv4Aliasing: true}, nets},
		{"ipv4-only", mmdbwriter.Options{RecordSize: 32, IPVersion: 4, IncludeReservedNetworks: true}, v4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{CountryDB: filepath.Join(dir, tc.name+"-country.mmdb"), ASNDB: filepath.Join(dir, tc.name+"-asn.mmdb")}
			tc.opts.DatabaseType = "GeoLite2-Country"
			writeNets(t, cfg.CountryDB, tc.opts, tc.nets, func(i int) mmdbtype.Map { return country(countries[i%len(countries)]) })
			tc.opts.DatabaseType = "GeoLite2-ASN"
			// Other boundaries than the country file's: every third network
			// split in two halves with their own records.
			var asnNets []netip.Prefix
			for i, p := range tc.nets {
				if i%3 == 0 && p.Bits() < p.Addr().BitLen() {
					lo, _ := p.Addr().Prefix(p.Bits() + 1)
					hi := lo.Addr().AsSlice()
					hi[p.Bits()/8] |= 0x80 >> (p.Bits() % 8)
					ha, _ := netip.AddrFromSlice(hi)
					asnNets = append(asnNets, netip.PrefixFrom(lo.Addr(), p.Bits()+1), netip.PrefixFrom(ha, p.Bits()+1))
					continue
				}
				asnNets = append(asnNets, p)
			}
			writeNets(t, cfg.ASNDB, tc.opts, asnNets, func(i int) mmdbtype.Map { return asn(uint32(64500+i%700), "AS org "+countries[i%len(countries)]) })
			all := probes(rng, tc.nets, 20000)
			for _, c := range []Config{cfg, {CountryDB: cfg.CountryDB}, {ASNDB: cfg.ASNDB}} {
				d, err := Open(c)
				if err != nil {
					t.Fatal(err)
				}
				w := openWalker(t, c)
				found, bad := 0, 0
				for _, a := range all {
					got, want := d.Lookup(a), w.lookup(a)
					if got != want {
						if bad++; bad <= 10 {
							t.Errorf("%+v: Lookup(%s) = %+v, maxminddb says %+v", c, a, got, want)
						}
					}
					if want != (Info{}) {
						found++
					}
				}
				if found < 20000 {
					t.Errorf("%+v: only %d probes found in the databases; the test proves little", c, found)
				}
			}
		})
	}
}

// A record for a network wider than the IPv4 subtree (::/64 holds ::/96)
// answers IPv4 addresses too, as maxminddb's lookups do.
func TestRecordWiderThanIPv4(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wide.mmdb")
	writeNets(t, path, mmdbwriter.Options{DatabaseType: "GeoLite2-Country", RecordSize: 24, IPVersion: 6, IncludeReservedNetworks: true, DisableIPv4Aliasing: true},
		[]netip.Prefix{netip.MustParsePrefix("::/64"), netip.MustParsePrefix("2001:db8::/32")},
		func(i int) mmdbtype.Map { return country([]string{"ZZ", "FR"}[i]) })
	d, err := Open(Config{CountryDB: path})
	if err != nil {
		t.Fatal(err)
	}
	w := openWalker(t, Config{CountryDB: path})
	for _, s := range []string{"198.51.100.7", "0.0.0.1", "255.255.255.255", "::1", "::1:0:0:1", "2001:db8::1", "2001:db9::1"} {
		a := netip.MustParseAddr(s)
		if got, want := d.Lookup(a), w.lookup(a); got != want {
			t.Errorf("Lookup(%s) = %+v, maxminddb says %+v", a, got, want)
		}
	}
	if got := d.Lookup(netip.MustParseAddr("198.51.100.7")).Country; got != "ZZ" {
		t.Errorf("IPv4 under ::/64: %q", got)
	}
}
