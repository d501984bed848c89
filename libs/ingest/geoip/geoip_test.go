package geoip

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// writeDB writes a small MaxMind DB with the given networks and records.
func writeDB(t testing.TB, path, dbType string, recs map[string]mmdbtype.Map) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IPVersion: 6, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range recs {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func country(code string) mmdbtype.Map {
	return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(code)}}
}

func asn(n uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n), "autonomous_system_organization": mmdbtype.String(org)}
}

func testDBs(t testing.TB) Config {
	dir := t.TempDir()
	cfg := Config{CountryDB: filepath.Join(dir, "country.mmdb"), ASNDB: filepath.Join(dir, "asn.mmdb")}
	writeDB(t, cfg.CountryDB, "GeoLite2-Country", map[string]mmdbtype.Map{
		"198.51.100.0/24": country("DE"), "203.0.113.0/24": country("US"), "2001:db8::/32": country("FR"),
	})
	writeDB(t, cfg.ASNDB, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"198.51.100.0/24": asn(64500, "Example Hosting GmbH"), "2001:db8::/32": asn(64501, "Example Telecom"),
	})
	return cfg
}

func TestLookupAndEnrich(t *testing.T) {
	d, err := Open(testDBs(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ip   string
		want Info
	}{
		{"198.51.100.7", Info{"DE", 64500, "Example Hosting GmbH"}},
		{"203.0.113.9", Info{Country: "US"}},
		{"2001:db8::1", Info{"FR", 64501, "Example Telecom"}},
		{"192.0.2.1", Info{}},
	} {
		if got := d.Lookup(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("Lookup(%s) = %+v, want %+v", tc.ip, got, tc.want)
		}
	}
	// The CDN's fields win; the organisation is added when the numbers agree.
	ev := &eventpb.RequestEvent{ClientIp: "198.51.100.7", CdnCountry: "AT", CdnAsn: 64500}
	d.Enrich(ev)
	if ev.GeoCountry != "AT" || ev.Asn != 64500 || ev.AsOrg != "Example Hosting GmbH" {
		t.Fatalf("CDN fields: %v", ev)
	}
	ev = &eventpb.RequestEvent{ClientIp: "2001:db8::1"}
	d.Enrich(ev)
	if ev.GeoCountry != "FR" || ev.Asn != 64501 || ev.AsOrg != "Example Telecom" {
		t.Fatalf("database fields: %v", ev)
	}
	// Unconfigured: nil, and only the CDN's fields.
	var none *DB
	if d, err := Open(Config{}); d != nil || err != nil {
		t.Fatalf("Open(empty) = %v, %v", d, err)
	}
	ev = &eventpb.RequestEvent{ClientIp: "198.51.100.7", CdnCountry: "AT"}
	none.Enrich(ev)
	if ev.GeoCountry != "AT" || ev.Asn != 0 || ev.AsOrg != "" {
		t.Fatalf("unconfigured: %v", ev)
	}
}

// Networks the databases split finer than a /24 or a /64 keep their own
// answers, asked twice (an answer does not leak into its neighbours).
func TestSplitNetworks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "country.mmdb")
	writeDB(t, path, "GeoLite2-Country", map[string]mmdbtype.Map{
		"198.51.100.0/25": country("DE"), "198.51.100.128/25": country("AT"),
		"203.0.113.0/24": country("US"), "2001:db8:0:1::/64": country("FR"), "2001:db8:0:2::/80": country("BE"),
	})
	d, err := Open(Config{CountryDB: path})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for ip, want := range map[string]string{
			"198.51.100.1": "DE", "198.51.100.200": "AT", "198.51.100.2": "DE", "198.51.100.129": "AT",
			"203.0.113.1": "US", "203.0.113.77": "US", "::ffff:203.0.113.78": "US",
			"2001:db8:0:1::1": "FR", "2001:db8:0:1::2": "FR", "2001:db8:0:2::1": "BE", "2001:db8:0:2:1::1": "",
		} {
			if got := d.Lookup(netip.MustParseAddr(ip)).Country; got != want {
				t.Errorf("Lookup(%s) = %q, want %q", ip, got, want)
			}
		}
	}
}

func TestIPinfoLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipinfo_lite.mmdb")
	writeDB(t, path, "ipinfo lite", map[string]mmdbtype.Map{"198.51.100.0/24": {
		"country_code": mmdbtype.String("NL"), "asn": mmdbtype.String("AS64502"), "as_name": mmdbtype.String("Example BV"),
	}})
	d, err := Open(Config{CountryDB: path})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Lookup(netip.MustParseAddr("198.51.100.1")); got != (Info{"NL", 64502, "Example BV"}) {
		t.Fatalf("%+v", got)
	}
}

func TestReload(t *testing.T) {
	cfg := testDBs(t)
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := d.Reload(); changed || err != nil {
		t.Fatalf("unchanged files reloaded: %v %v", changed, err)
	}
	writeDB(t, cfg.CountryDB, "GeoLite2-Country", map[string]mmdbtype.Map{"198.51.100.0/24": country("PL")})
	// A rewritten file has another size or time; make sure of the time.
	later := time.Now().Add(time.Minute)
	os.Chtimes(cfg.CountryDB, later, later)
	if changed, err := d.Reload(); !changed || err != nil {
		t.Fatalf("changed file not reloaded: %v %v", changed, err)
	}
	// The unchanged ASN database still answers (the index merges both).
	if got := d.Lookup(netip.MustParseAddr("198.51.100.7")); got != (Info{"PL", 64500, "Example Hosting GmbH"}) {
		t.Fatalf("after reload: %+v", got)
	}
	// A broken file keeps the loaded database.
	os.WriteFile(cfg.CountryDB, []byte("not a database"), 0o644)
	if changed, err := d.Reload(); changed || err == nil {
		t.Fatalf("broken file: %v %v", changed, err)
	}
	if got := d.Lookup(netip.MustParseAddr("198.51.100.7")); got != (Info{"PL", 64500, "Example Hosting GmbH"}) {
		t.Fatalf("after a failed reload: %+v", got)
	}
	if d.Errors() != 1 {
		t.Fatalf("%d failed reloads counted, want 1", d.Errors())
	}
	if _, err := Open(Config{CountryDB: filepath.Join(t.TempDir(), "missing.mmdb")}); err == nil {
		t.Fatal("missing database opened")
	}
}

// Lookups go on while a reload swaps the index in (run with -race).
func TestLookupDuringReload(t *testing.T) {
	cfg := testDBs(t)
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop, bad := make(chan struct{}), make(chan Info, 1)
	go func() {
		defer close(bad)
		a := netip.MustParseAddr("198.51.100.7")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if got := d.Lookup(a); got.ASN != 64500 {
				bad <- got
				return
			}
		}
	}()
	for i, c := range []string{"PL", "CZ", "SK"} {
		writeDB(t, cfg.CountryDB, "GeoLite2-Country", map[string]mmdbtype.Map{"198.51.100.0/24": country(c)})
		later := time.Now().Add(time.Duration(i+1) * time.Minute)
		os.Chtimes(cfg.CountryDB, later, later)
		if changed, err := d.Reload(); !changed || err != nil {
			t.Fatalf("reload %d: %v %v", i, changed, err)
		}
	}
	close(stop)
	if got, ok := <-bad; ok {
		t.Fatalf("during a reload: %+v", got)
	}
	if got := d.Lookup(netip.MustParseAddr("198.51.100.7")).Country; got != "SK" {
		t.Fatalf("after the reloads: %q", got)
	}
}
