// Package geoip finds the country and the network (autonomous system) of a
// client address in MaxMind-format databases: GeoLite2 Country and ASN,
// DB-IP Lite, IPinfo Lite. Files are read with
// github.com/oschwald/maxminddb-golang/v2, compiled at load into one
// in-memory index of both (index.go), and read again when they change on
// disk (a cron job or `bulwark geoip update` replaces them).
package geoip

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Info is what the databases know about an address; zero values mean unknown.
type Info struct {
	Country string // ISO 3166-1 alpha-2
	ASN     uint32
	ASOrg   string
}

// record is decoded from either kind of database; the layouts of the
// supported vendors differ, so it holds the spellings of each.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	CountryCode string `maxminddb:"country_code"` // IPinfo Lite
	ASN         uint32 `maxminddb:"autonomous_system_number"`
	ASOrg       string `maxminddb:"autonomous_system_organization"`
	IPinfoASN   string `maxminddb:"asn"`     // IPinfo Lite: "AS13335"
	IPinfoName  string `maxminddb:"as_name"` // IPinfo Lite
}

func (r *record) info() Info {
	in := Info{Country: r.Country.ISOCode, ASN: r.ASN, ASOrg: r.ASOrg}
	if in.Country == "" {
		in.Country = r.CountryCode
	}
	if in.Country == "" {
		in.Country = r.RegisteredCountry.ISOCode
	}
	if in.ASN == 0 && r.IPinfoASN != "" {
		if n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(r.IPinfoASN), "AS"), 10, 32); err == nil {
			in.ASN = uint32(n)
		}
	}
	if in.ASOrg == "" {
		in.ASOrg = r.IPinfoName
	}
	return in
}

// Config names the database files; either may be empty.
type Config struct {
	CountryDB      string        `env:"GEOIP_COUNTRY_DB" help:"MaxMind-format country database (GeoLite2-Country, DB-IP Lite, IPinfo Lite); reloaded when the file changes."`
	ASNDB          string        `env:"GEOIP_ASN_DB" help:"MaxMind-format ASN database (GeoLite2-ASN, DB-IP Lite ASN, IPinfo Lite); reloaded when the file changes."`
	ReloadInterval time.Duration `env:"GEOIP_RELOAD_INTERVAL" envDefault:"1m" help:"How often the files are checked for changes."`
}

// Enabled reports whether any database is configured.
func (c Config) Enabled() bool { return c.CountryDB != "" || c.ASNDB != "" }

// DB answers lookups from the configured databases. A nil *DB knows
// nothing, costs nothing, and is what an unconfigured shipper uses. The
// index is immutable once built: lookups take no lock, and a reload swaps
// in a new one.
type DB struct {
	cfg    Config
	ix     atomic.Pointer[index]
	errors atomic.Int64
	reload sync.Mutex // one Reload at a time
}

// Open loads the configured databases; it returns nil, nil when none is
// configured.
func Open(cfg Config) (*DB, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	ix, err := loadIndex(cfg)
	if err != nil {
		return nil, err
	}
	d := &DB{cfg: cfg}
	d.ix.Store(ix)
	return d, nil
}

// loadIndex reads both configured files and merges them.
func loadIndex(cfg Config) (*index, error) {
	var src [2]*source
	for i, x := range []struct{ path, name string }{{cfg.CountryDB, "BULWARK_GEOIP_COUNTRY_DB"}, {cfg.ASNDB, "BULWARK_GEOIP_ASN_DB"}} {
		if x.path == "" {
			continue
		}
		s, err := loadSource(x.path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", x.name, err)
		}
		src[i] = s
	}
	return newIndex(src[0], src[1]), nil
}

// Lookup returns what the databases know about a.
func (d *DB) Lookup(a netip.Addr) Info {
	if d == nil || !a.IsValid() {
		return Info{}
	}
	return d.ix.Load().lookup(a.Unmap())
}

// Errors counts reloads that failed (a changed file that is unreadable or
// corrupt; the loaded database stays in use). Lookups cannot fail: a
// database is checked whole when it is compiled.
func (d *DB) Errors() int64 {
	if d == nil {
		return 0
	}
	return d.errors.Load()
}

// Reload loads the databases again when either file changed
// (modification time or size) since they were loaded, and reports whether
// it did. Both are read, as the index merges them. If a file fails to
// load, the loaded databases stay in use (and the next Reload tries
// again).
func (d *DB) Reload() (bool, error) {
	if d == nil {
		return false, nil
	}
	d.reload.Lock()
	defer d.reload.Unlock()
	cur := d.ix.Load()
	stale := false
	for _, x := range []struct {
		path string
		src  *source
	}{{d.cfg.CountryDB, cur.country}, {d.cfg.ASNDB, cur.asn}} {
		if x.path == "" {
			continue
		}
		fi, err := os.Stat(x.path)
		if err != nil {
			d.errors.Add(1)
			return false, err
		}
		if x.src == nil || !fi.ModTime().Equal(x.src.mod) || fi.Size() != x.src.size {
			stale = true
		}
	}
	if !stale {
		return false, nil
	}
	ix, err := loadIndex(d.cfg)
	if err != nil {
		d.errors.Add(1)
		return false, err
	}
	d.ix.Store(ix)
	return true, nil
}

// Watch reloads changed databases every ReloadInterval until ctx ends.
func (d *DB) Watch(ctx context.Context, log *slog.Logger) {
	if d == nil {
		return
	}
	iv := d.cfg.ReloadInterval
	if iv <= 0 {
		iv = time.Minute
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		changed, err := d.Reload()
		if err != nil {
			log.Warn("geoip database reload failed; keeping the loaded ones", "err", err)
		}
		if changed {
			log.Info("geoip databases reloaded", "country_db", d.cfg.CountryDB, "asn_db", d.cfg.ASNDB, "took", time.Since(start))
		}
	}
}
