package geoip

import (
	"archive/tar"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func tarGz(name string, b []byte) []byte {
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tw.WriteHeader(&tar.Header{Name: "GeoLite2-Country_20261201/COPYRIGHT.txt", Mode: 0o644, Size: 2})
	tw.Write([]byte("c\n"))
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))})
	tw.Write(b)
	tw.Close()
	return gz(out.Bytes())
}

func TestUpdate(t *testing.T) {
	src := t.TempDir()
	cdb, adb := filepath.Join(src, "c.mmdb"), filepath.Join(src, "a.mmdb")
	writeDB(t, cdb, "GeoLite2-Country", map[string]mmdbtype.Map{"198.51.100.0/24": country("SE")})
	writeDB(t, adb, "GeoLite2-ASN", map[string]mmdbtype.Map{"198.51.100.0/24": asn(64510, "Example AB")})
	country, _ := os.ReadFile(cdb)
	asnDB, _ := os.ReadFile(adb)

	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		auth = append(auth, user+":"+pass)
		switch r.URL.Path {
		case "/dbip-country-lite-2026-12.mmdb.gz":
			w.Write(gz(country))
		case "/dbip-asn-lite-2026-12.mmdb.gz":
			w.Write(gz(asnDB))
		case "/GeoLite2-Country/download":
			if user != "42" || pass != "key" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			w.Write(tarGz("GeoLite2-Country_20261201/GeoLite2-Country.mmdb", country))
		case "/GeoLite2-ASN/download":
			w.Write(tarGz("GeoLite2-ASN_20261201/GeoLite2-ASN.mmdb", asnDB))
		case "/ipinfo_lite.mmdb":
			if r.URL.Query().Get("token") != "tok" {
				http.Error(w, "no", http.StatusForbidden)
				return
			}
			w.Write(country)
		case "/broken":
			w.Write([]byte("<html>not a database</html>"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	check := func(dir string) {
		t.Helper()
		d, err := Open(Config{CountryDB: filepath.Join(dir, "country.mmdb"), ASNDB: filepath.Join(dir, "asn.mmdb")})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Lookup(netip.MustParseAddr("198.51.100.1")); got.Country != "SE" {
			t.Fatalf("after update: %+v", got)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  UpdateConfig
	}{
		{"dbip", UpdateConfig{Provider: "dbip", CountryURL: srv.URL + "/dbip-country-lite-{date}.mmdb.gz", ASNURL: srv.URL + "/dbip-asn-lite-{date}.mmdb.gz"}},
		{"maxmind", UpdateConfig{Provider: "maxmind", CountryURL: srv.URL + "/GeoLite2-Country/download?suffix=tar.gz",
			ASNURL: srv.URL + "/GeoLite2-ASN/download?suffix=tar.gz", MaxMindAccountID: "42", MaxMindLicenseKey: "key"}},
		{"ipinfo", UpdateConfig{Provider: "ipinfo", CountryURL: srv.URL + "/ipinfo_lite.mmdb?token={token}", IPinfoToken: "tok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dl, err := tc.cfg.Downloads(now)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "geoip")
			if err := Update(ctx, srv.Client(), dir, dl); err != nil {
				t.Fatal(err)
			}
			check(dir)
		})
	}

	// Refusals and bad files leave what is installed alone.
	dir := t.TempDir()
	good, _ := UpdateConfig{Provider: "dbip", CountryURL: srv.URL + "/dbip-country-lite-{date}.mmdb.gz", ASNURL: srv.URL + "/dbip-asn-lite-{date}.mmdb.gz"}.Downloads(now)
	if err := Update(ctx, srv.Client(), dir, good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dl    Download
		inMsg string
	}{
		{Download{File: "country.mmdb", URL: srv.URL + "/GeoLite2-Country/download", User: "42", Password: "wrong"}, "HTTP 401"},
		{Download{File: "country.mmdb", URL: srv.URL + "/broken"}, "not a MaxMind DB"},
		{Download{File: "country.mmdb", URL: srv.URL + "/ipinfo_lite.mmdb?token=secret"}, "HTTP 403"},
	} {
		err := Update(ctx, srv.Client(), dir, []Download{tc.dl})
		if err == nil || !strings.Contains(err.Error(), tc.inMsg) || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("Update(%s) = %v, want %q without secrets", tc.dl.URL, err, tc.inMsg)
		}
	}
	check(dir)

	for _, cfg := range []UpdateConfig{{Provider: "maxmind"}, {Provider: "ipinfo"}, {Provider: "nope"}} {
		if _, err := cfg.Downloads(now); err == nil || !strings.Contains(err.Error(), "BULWARK_GEOIP_") {
			t.Errorf("%s: %v", cfg.Provider, err)
		}
	}
}
