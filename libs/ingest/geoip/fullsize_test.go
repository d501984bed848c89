package geoip

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Full-size databases for the benchmarks: the size of GeoLite2-Country and
// GeoLite2-ASN (about 500,000 networks each, IPv4 and IPv6), so lookups
// pay the cache misses of a real tree and loads the cost of a real file.
// Generated with a fixed seed; the layout of the records copies
// MaxMind's (a country record with names in several languages; an ASN
// record of number and organisation).
const (
	fullV4Networks = 400_000
	fullV6Networks = 100_000
	fullASNs       = 80_000
)

var (
	fullOnce sync.Once
	fullDir  string
	fullErr  error
)

// fullSizeDBs writes both databases once per test binary (mmdbwriter takes
// several seconds for half a million networks) and returns their Config.
func fullSizeDBs(tb testing.TB) Config {
	tb.Helper()
	fullOnce.Do(func() {
		fullDir, fullErr = os.MkdirTemp("", "bulwark-geoip-fullsize-")
		if fullErr != nil {
			return
		}
		fullErr = writeFullSize(fullDir)
	})
	if fullErr != nil {
		tb.Fatal(fullErr)
	}
	return Config{CountryDB: filepath.Join(fullDir, "country.mmdb"), ASNDB: filepath.Join(fullDir, "asn.mmdb")}
}

// TestMain removes the full-size databases after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if fullDir != "" {
		os.RemoveAll(fullDir)
	}
	os.Exit(code)
}

// fullNetworks lays out n4 IPv4 networks over the unicast space (sizes
// from /24 to /18, most small, with unallocated gaps between them) and n6
// disjoint IPv6 networks (/32 to /48, one per /32, clustered in a few
// thousand /20s of 2000::/4, as allocations are). Disjoint, so the writer
// does not split them: each database holds n4+n6 networks.
func fullNetworks(rng *rand.Rand, n4, n6 int) []netip.Prefix {
	out := make([]netip.Prefix, 0, n4+n6)
	lens := []int{24, 24, 24, 24, 24, 23, 23, 23, 22, 22, 21, 20, 19, 18}
	// Blocks average about 3,000 addresses with their alignment; keep
	// enough of the space's blocks to place n4 networks.
	const space = 223 << 24
	keep := min(1, 1.3*float64(n4)/(space/3000.0))
	a := uint32(1 << 24)
	for len(out) < n4 && a < 224<<24 {
		l := lens[rng.IntN(len(lens))]
		size := uint32(1) << (32 - l)
		a = (a + size - 1) &^ (size - 1)
		if rng.Float64() < keep {
			out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), l))
		}
		a += size
	}
	// mmdbwriter aliases these to the IPv4 tree (6to4, Teredo).
	aliased := []netip.Prefix{netip.MustParsePrefix("2002::/16"), netip.MustParsePrefix("2001::/32")}
	parents := make([]uint32, n6/50+1) // /20s, as the top 20 bits
	for i := range parents {
		parents[i] = (0x2000+uint32(rng.IntN(0xc00)))<<4 | uint32(rng.IntN(16))
	}
	used := map[uint32]bool{}
	for len(out) < n4+n6 {
		top := parents[rng.IntN(len(parents))]<<12 | uint32(rng.IntN(1<<12)) // a /32
		if used[top] {
			continue
		}
		var b [16]byte
		b[0], b[1], b[2], b[3] = byte(top>>24), byte(top>>16), byte(top>>8), byte(top)
		b[4], b[5] = byte(rng.IntN(256)), byte(rng.IntN(256))
		p, _ := netip.AddrFrom16(b).Prefix(32 + rng.IntN(17))
		if !aliased[0].Overlaps(p) && !aliased[1].Overlaps(p) {
			used[top] = true
			out = append(out, p)
		}
	}
	return out
}

var fullCountries = []string{"US", "DE", "FR", "GB", "CN", "JP", "BR", "IN", "RU", "NL", "SE", "PL", "IT", "ES", "CA", "AU", "KR", "SG", "HK", "UA", "TR", "VN", "ID", "MX", "AR", "ZA", "NG", "EG", "IR", "TH"}

func countryRecord(code string, id int) mmdbtype.Map {
	names := mmdbtype.Map{}
	for _, lang := range []string{"de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN"} {
		names[mmdbtype.String(lang)] = mmdbtype.String(fmt.Sprintf("Country %s (%s)", code, lang))
	}
	c := mmdbtype.Map{"geoname_id": mmdbtype.Uint32(id), "iso_code": mmdbtype.String(code), "names": names}
	return mmdbtype.Map{
		"continent":          mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": names},
		"country":            c,
		"registered_country": c,
	}
}

func writeFullSize(dir string) error {
	rng := rand.New(rand.NewPCG(17, 300))
	nets := fullNetworks(rng, fullV4Networks, fullV6Networks)
	countries := make([]mmdbtype.Map, 250)
	for i := range countries {
		code := fullCountries[i%len(fullCountries)]
		if i >= len(fullCountries) {
			code = string([]byte{'A' + byte(i/26%26), 'A' + byte(i%26)})
		}
		countries[i] = countryRecord(code, 1000+i)
	}
	asns := make([]mmdbtype.Map, fullASNs)
	for i := range asns {
		asns[i] = mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(1000 + i),
			"autonomous_system_organization": mmdbtype.String(fmt.Sprintf("Example Network %d Ltd", i)),
		}
	}
	// Each network's AS is drawn at random; its country is the AS's home
	// country (a few big countries hold most ASes, as in GeoLite2) but for
	// one network in twenty, so the two files' records pair up as real ones
	// do: about one (country, AS) pair per AS, not one per network.
	home := make([]int, len(asns))
	for i := range home {
		home[i] = min(int(rng.ExpFloat64()*20), len(countries)-1)
	}
	netASN, netCountry := make([]int, len(nets)), make([]int, len(nets))
	for i := range nets {
		netASN[i] = rng.IntN(len(asns))
		netCountry[i] = home[netASN[i]]
		if rng.IntN(20) == 0 {
			netCountry[i] = rng.IntN(len(countries))
		}
	}
	for _, db := range []struct {
		name, typ string
		rec       func(i int) mmdbtype.Map
	}{
		{"country.mmdb", "GeoLite2-Country", func(i int) mmdbtype.Map { return countries[netCountry[i]] }},
		{"asn.mmdb", "GeoLite2-ASN", func(i int) mmdbtype.Map { return asns[netASN[i]] }},
	} {
		w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: db.typ, RecordSize: 24, IPVersion: 6, IncludeReservedNetworks: true})
		if err != nil {
			return err
		}
		for i, p := range nets {
			n := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
			if err := w.Insert(n, db.rec(i)); err != nil {
				return fmt.Errorf("%s: insert %s: %w", db.name, p, err)
			}
		}
		f, err := os.Create(filepath.Join(dir, db.name))
		if err != nil {
			return err
		}
		if _, err := w.WriteTo(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// fullSizeAddrs are n addresses inside the full-size databases'
// networks, of one family, nearly each in another network.
func fullSizeAddrs(n int, v6 bool) []netip.Addr {
	rng := rand.New(rand.NewPCG(17, 300))
	var nets []netip.Prefix
	for _, p := range fullNetworks(rng, fullV4Networks, fullV6Networks) {
		if p.Addr().Is6() == v6 {
			nets = append(nets, p)
		}
	}
	pick := rand.New(rand.NewPCG(1, 2))
	out := make([]netip.Addr, n)
	for i := range out {
		p := nets[pick.IntN(len(nets))]
		b := p.Addr().AsSlice()
		for j, host := len(b)-1, len(b)*8-p.Bits(); j >= 0 && host > 0; j, host = j-1, host-8 {
			b[j] |= byte(pick.IntN(1 << min(host, 8)))
		}
		out[i], _ = netip.AddrFromSlice(b)
	}
	return out
}
