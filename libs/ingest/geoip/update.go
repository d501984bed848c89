package geoip

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Download is one database to fetch: from URL into Dir/File.
type Download struct {
	File string // "country.mmdb" or "asn.mmdb"
	URL  string
	// User and Password, when set, are sent as HTTP basic auth (MaxMind's
	// account ID and licence key).
	User, Password string
}

// Providers' free databases. {date} is replaced by the current year and
// month (DB-IP publishes monthly files).
const (
	DBIPCountryURL     = "https://download.db-ip.com/free/dbip-country-lite-{date}.mmdb.gz"
	DBIPASNURL         = "https://download.db-ip.com/free/dbip-asn-lite-{date}.mmdb.gz"
	MaxMindCountryURL  = "https://download.maxmind.com/geoip/databases/GeoLite2-Country/download?suffix=tar.gz"
	MaxMindASNURL      = "https://download.maxmind.com/geoip/databases/GeoLite2-ASN/download?suffix=tar.gz"
	IPinfoLiteURL      = "https://ipinfo.io/data/ipinfo_lite.mmdb?token={token}"
	maxDownloadBytes   = 512 << 20
	defaultHTTPTimeout = 5 * time.Minute
)

// UpdateConfig is what `bulwark geoip update` reads from the environment;
// URLs may be overridden (a mirror, a proxy, a test server).
type UpdateConfig struct {
	Provider          string `env:"GEOIP_PROVIDER" envDefault:"dbip" help:"Dbip (no key), maxmind (account ID and licence key) or ipinfo (token)."`
	CountryURL        string `env:"GEOIP_COUNTRY_URL" help:"Where bulwark geoip update downloads the country database from (default: DB-IP Lite of this month)."`
	ASNURL            string `env:"GEOIP_ASN_URL" help:"Where bulwark geoip update downloads the ASN database from (default: DB-IP Lite of this month)."`
	MaxMindAccountID  string `env:"GEOIP_MAXMIND_ACCOUNT_ID" help:"MaxMind account id, to download GeoLite2 with bulwark geoip update."`
	MaxMindLicenseKey string `env:"GEOIP_MAXMIND_LICENSE_KEY" help:"MaxMind licence key, to download GeoLite2 with bulwark geoip update."`
	IPinfoToken       string `env:"GEOIP_IPINFO_TOKEN" help:"IPinfo token, to download IPinfo Lite with bulwark geoip update."`
}

// Downloads returns what to fetch for the configured provider, or an error
// naming the missing variable.
func (c UpdateConfig) Downloads(now time.Time) ([]Download, error) {
	date := now.UTC().Format("2006-01")
	pick := func(override, def string) string {
		if override != "" {
			return override
		}
		return def
	}
	switch c.Provider {
	case "dbip":
		return []Download{
			{File: "country.mmdb", URL: strings.ReplaceAll(pick(c.CountryURL, DBIPCountryURL), "{date}", date)},
			{File: "asn.mmdb", URL: strings.ReplaceAll(pick(c.ASNURL, DBIPASNURL), "{date}", date)},
		}, nil
	case "maxmind":
		if c.MaxMindAccountID == "" || c.MaxMindLicenseKey == "" {
			return nil, errors.New("BULWARK_GEOIP_MAXMIND_ACCOUNT_ID and BULWARK_GEOIP_MAXMIND_LICENSE_KEY: both are needed for GeoLite2 (free account at maxmind.com)")
		}
		return []Download{
			{File: "country.mmdb", URL: pick(c.CountryURL, MaxMindCountryURL), User: c.MaxMindAccountID, Password: c.MaxMindLicenseKey},
			{File: "asn.mmdb", URL: pick(c.ASNURL, MaxMindASNURL), User: c.MaxMindAccountID, Password: c.MaxMindLicenseKey},
		}, nil
	case "ipinfo":
		if c.IPinfoToken == "" {
			return nil, errors.New("BULWARK_GEOIP_IPINFO_TOKEN: needed for IPinfo Lite (free token at ipinfo.io)")
		}
		// One database holds both the country and the network.
		u := strings.ReplaceAll(pick(c.CountryURL, IPinfoLiteURL), "{token}", c.IPinfoToken)
		return []Download{{File: "country.mmdb", URL: u}, {File: "asn.mmdb", URL: u}}, nil
	}
	return nil, fmt.Errorf("BULWARK_GEOIP_PROVIDER %q: want dbip, maxmind or ipinfo", c.Provider)
}

// Update downloads each database into dir. A file is replaced only once
// the new one has been read as a valid MaxMind DB, by rename, so that a
// running shipper reloads a whole file or nothing.
func Update(ctx context.Context, client *http.Client, dir string, downloads []Download) error {
	if client == nil {
		client = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fetched := map[string][]byte{} // one download serving two files is fetched once
	for _, d := range downloads {
		data, ok := fetched[d.URL]
		if !ok {
			var err error
			if data, err = fetch(ctx, client, d); err != nil {
				return fmt.Errorf("%s: %w", d.File, err)
			}
			fetched[d.URL] = data
		}
		if err := install(dir, d.File, data); err != nil {
			return fmt.Errorf("%s: %w", d.File, err)
		}
	}
	return nil
}

func fetch(ctx context.Context, client *http.Client, d Download) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL, nil)
	if err != nil {
		return nil, err
	}
	if d.User != "" {
		req.SetBasicAuth(d.User, d.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download: %w", redact(err, d.Password))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download: HTTP %d from %s", resp.StatusCode, redactURL(req))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDownloadBytes+1))
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	if len(data) > maxDownloadBytes {
		return nil, fmt.Errorf("download: larger than %d bytes", maxDownloadBytes)
	}
	return extract(data)
}

// extract returns the MaxMind DB in data: as is, gzip'd (DB-IP), or in a
// gzip'd tar archive (MaxMind).
func extract(data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("gunzip: %w", err)
		}
		if data, err = io.ReadAll(io.LimitReader(zr, maxDownloadBytes)); err != nil {
			return nil, fmt.Errorf("gunzip: %w", err)
		}
	}
	if len(data) > 262 && string(data[257:262]) == "ustar" {
		tr := tar.NewReader(bytes.NewReader(data))
		for {
			h, err := tr.Next()
			if err != nil {
				return nil, fmt.Errorf("no .mmdb file in the archive: %w", err)
			}
			if strings.HasSuffix(h.Name, ".mmdb") {
				return io.ReadAll(tr)
			}
		}
	}
	return data, nil
}

func install(dir, name string, data []byte) error {
	if _, err := maxminddb.OpenBytes(data); err != nil {
		return fmt.Errorf("not a MaxMind DB: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

// redactURL prints a request's URL without its query (tokens live there).
func redactURL(req *http.Request) string {
	u := *req.URL
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

func redact(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "…"))
}
