package shipper_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func writeMMDB(t *testing.T, path string, cidr string, rec mmdbtype.Map) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "test", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR(cidr)
	if err := w.Insert(n, rec); err != nil {
		t.Fatal(err)
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

// TestShipGeoIP: with BULWARK_GEOIP_* set, shipped events carry the
// client's country, ASN and AS organisation.
func TestShipGeoIP(t *testing.T) {
	dir := t.TempDir()
	countryDB, asnDB := filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "asn.mmdb")
	writeMMDB(t, countryDB, "198.51.100.0/24", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}})
	writeMMDB(t, asnDB, "198.51.100.0/24", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64500),
		"autonomous_system_organization": mmdbtype.String("Example Hosting GmbH")})

	c, err := config.LoadFrom[shipper.Config](map[string]string{
		"BULWARK_SHIPPER_FILES": "x", "BULWARK_GEOIP_COUNTRY_DB": countryDB, "BULWARK_GEOIP_ASN_DB": asnDB,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.GeoIP.CountryDB != countryDB || c.GeoIP.ASNDB != asnDB || c.GeoIP.ReloadInterval != time.Minute {
		t.Fatalf("geoip config from the environment: %+v", c.GeoIP)
	}

	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	path := filepath.Join(dir, "access.log")
	writeLines(t, path, 0, 10)
	cfg := testConfig(path)
	cfg.Follow = false
	cfg.GeoIP = c.GeoIP
	s, err := shipper.New(cfg, kcfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := kafkatest.ReadAll(t, b, kcfg.Topics.Requests, 10, 30*time.Second)
	if len(recs) != 10 {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		var ev eventpb.RequestEvent
		if err := proto.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.GeoCountry != "DE" || ev.Asn != 64500 || ev.AsOrg != "Example Hosting GmbH" {
			t.Fatalf("event not enriched: %v", &ev)
		}
	}

	cfg.GeoIP.CountryDB = filepath.Join(dir, "missing.mmdb")
	if _, err := shipper.New(cfg, kcfg, nil, nil); err == nil {
		t.Fatal("a missing GeoIP database did not stop the shipper")
	}
}
