// Package geoip finds the country and the network (autonomous system) of a
// client address in MaxMind-format databases: GeoLite2 Country and ASN,
// DB-IP Lite, IPinfo Lite. Files are read with
// github.com/oschwald/maxminddb-golang/v2 and reloaded when they change on
// disk (a cron job or `bulwark geoip update` replaces them).
package geoip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"
	"github.com/oschwald/maxminddb-golang/v2"
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

// table is one database compiled at load into a prefix table of record
// ids (github.com/gaissmai/bart): a lookup is then a few 8-bit strides
// with no decoding, and costs the same for a network never seen as for a
// repeat visitor. Walking the mmdb search tree instead costs one
// dependent memory read per bit of the prefix (up to 32 for IPv4, a cache
// miss each once the tree outgrows the CPU caches: full-size databases
// are tens of MB), which made a first-seen network several microseconds;
// see BENCHMARKS.md. The file's bytes are dropped after the compile.
type table struct {
	nets *bart.Table[uint32]
	recs []Info // by id; many networks share one record
	// sixToFour and teredo say the database answers 6to4 (2002::/16) and
	// Teredo (2001::/32) addresses from its IPv4 networks, as MaxMind's
	// writer does by default; Networks skips aliases, so lookups map them.
	sixToFour, teredo bool
	mod               time.Time
	size              int64
}

var (
	sixToFourNet = netip.MustParsePrefix("2002::/16")
	teredoNet    = netip.MustParsePrefix("2001::/32")
)

func load(path string) (*table, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	// Read into memory rather than mmap: the compiled table is all that
	// is kept, and an mmap of a file a cron job replaces could fault.
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t, err := compile(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.mod, t.size = fi.ModTime(), fi.Size()
	return t, nil
}

// compile reads every network of r into a table, decoding each distinct
// record once (records are shared by offset in the data section).
func compile(r *maxminddb.Reader) (*table, error) {
	t := &table{nets: new(bart.Table[uint32])}
	ids := map[uintptr]uint32{}
	v4all := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	for res := range r.Networks() {
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("reading the networks: %w", err)
		}
		off := res.Offset()
		id, ok := ids[off]
		if !ok {
			var rec record
			if err := res.Decode(&rec); err != nil {
				return nil, fmt.Errorf("decoding the record of %s: %w", res.Prefix(), err)
			}
			id = uint32(len(t.recs))
			t.recs = append(t.recs, rec.info())
			ids[off] = id
		}
		p := res.Prefix()
		t.nets.Insert(p, id)
		// A record wider than the IPv4 subtree (::/N, N <= 96) answers
		// every IPv4 address too.
		if p.Addr().Is6() && p.Bits() <= 96 && p.Contains(netip.IPv6Unspecified()) {
			t.nets.Insert(v4all, id)
		}
	}
	t.sixToFour, t.teredo = aliased(r, sixToFourNet), aliased(r, teredoNet)
	return t, nil
}

// aliased reports whether p's subtree in r is the IPv4 subtree: Networks
// skips it, and lists it only when asked for aliases.
func aliased(r *maxminddb.Reader, p netip.Prefix) bool {
	for range r.NetworksWithin(p) {
		return false
	}
	for res := range r.NetworksWithin(p, maxminddb.IncludeAliasedNetworks()) {
		return res.Err() == nil
	}
	return false
}

// lookup returns a's record (a unmapped), zero when no network holds it.
func (t *table) lookup(a netip.Addr) Info {
	if (t.sixToFour || t.teredo) && a.Is6() {
		b := a.As16()
		switch {
		case t.sixToFour && b[0] == 0x20 && b[1] == 0x02:
			a = netip.AddrFrom4([4]byte(b[2:6]))
		case t.teredo && b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0:
			a = netip.AddrFrom4([4]byte(b[4:8]))
		}
	}
	if id, ok := t.nets.Lookup(a); ok {
		return t.recs[id]
	}
	return Info{}
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
// tables are immutable once loaded: lookups take no lock, and a reload
// swaps in a new table.
type DB struct {
	cfg     Config
	country atomic.Pointer[table]
	asn     atomic.Pointer[table]
	errors  atomic.Int64
}

// Open loads the configured databases; it returns nil, nil when none is
// configured.
func Open(cfg Config) (*DB, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	d := &DB{cfg: cfg}
	for _, x := range []struct {
		path, name string
		dst        *atomic.Pointer[table]
	}{{cfg.CountryDB, "BULWARK_GEOIP_COUNTRY_DB", &d.country}, {cfg.ASNDB, "BULWARK_GEOIP_ASN_DB", &d.asn}} {
		if x.path == "" {
			continue
		}
		t, err := load(x.path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", x.name, err)
		}
		x.dst.Store(t)
	}
	return d, nil
}

// Lookup returns what the databases know about a.
func (d *DB) Lookup(a netip.Addr) Info {
	if d == nil || !a.IsValid() {
		return Info{}
	}
	a = a.Unmap()
	var in Info
	if t := d.country.Load(); t != nil {
		in = t.lookup(a) // a combined database (IPinfo Lite) has the ASN too
	}
	if t := d.asn.Load(); t != nil {
		n := t.lookup(a)
		if n.ASN != 0 {
			in.ASN, in.ASOrg = n.ASN, n.ASOrg
		}
		if in.Country == "" {
			in.Country = n.Country
		}
	}
	return in
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

// Reload loads any database whose file changed (modification time or
// size) since it was loaded; it reports whether one was replaced. A file
// that fails to load leaves the previous database in use.
func (d *DB) Reload() (bool, error) {
	if d == nil {
		return false, nil
	}
	changed := false
	var errs []error
	for _, x := range []struct {
		path string
		dst  *atomic.Pointer[table]
	}{{d.cfg.CountryDB, &d.country}, {d.cfg.ASNDB, &d.asn}} {
		if x.path == "" {
			continue
		}
		fi, err := os.Stat(x.path)
		if err != nil {
			d.errors.Add(1)
			errs = append(errs, err)
			continue
		}
		if cur := x.dst.Load(); cur != nil && fi.ModTime().Equal(cur.mod) && fi.Size() == cur.size {
			continue
		}
		t, err := load(x.path)
		if err != nil {
			d.errors.Add(1)
			errs = append(errs, err)
			continue
		}
		x.dst.Store(t)
		changed = true
	}
	return changed, errors.Join(errs...)
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
		changed, err := d.Reload()
		if err != nil {
			log.Warn("geoip database reload failed; keeping the loaded one", "err", err)
		}
		if changed {
			log.Info("geoip database reloaded", "country_db", d.cfg.CountryDB, "asn_db", d.cfg.ASNDB)
		}
	}
}
