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
	"sync"
	"sync/atomic"
	"time"

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

// file is one loaded database with a cache of decoded records by their
// offset in the data section: many addresses share one record, and
// decoding is what costs, so a lookup is a tree walk plus a map hit.
type file struct {
	r     *maxminddb.Reader
	mod   time.Time
	size  int64
	mu    sync.RWMutex
	cache map[uintptr]Info
}

// maxCache bounds each database's record cache; when full it starts over.
const maxCache = 1 << 16

func load(path string) (*file, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	// Read into memory rather than mmap: a reload can then drop the old
	// database while lookups still use it, and the GC frees it after.
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &file{r: r, mod: fi.ModTime(), size: fi.Size(), cache: map[uintptr]Info{}}, nil
}

// lookup returns a's record and the length of the prefix the record
// covers (0 for a record wider than all of IPv4, -1 when unknown).
func (f *file) lookup(a netip.Addr) (Info, int, error) {
	res := f.r.Lookup(a)
	if err := res.Err(); err != nil {
		return Info{}, -1, err
	}
	bits := -1
	if p := res.Prefix(); p.IsValid() {
		bits = p.Bits()
		if a.Is4() && p.Addr().Is6() {
			bits = 0 // the record's network holds the whole IPv4 space
		}
	}
	if !res.Found() {
		return Info{}, bits, nil
	}
	off := res.Offset()
	f.mu.RLock()
	in, ok := f.cache[off]
	f.mu.RUnlock()
	if ok {
		return in, bits, nil
	}
	var rec record
	if err := res.Decode(&rec); err != nil {
		return Info{}, -1, err
	}
	in = rec.info()
	f.mu.Lock()
	if len(f.cache) >= maxCache {
		clear(f.cache)
	}
	f.cache[off] = in
	f.mu.Unlock()
	return in, bits, nil
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
// nothing, costs nothing, and is what an unconfigured shipper uses.
type DB struct {
	cfg     Config
	country atomic.Pointer[file]
	asn     atomic.Pointer[file]
	errors  atomic.Int64
	// byNet caches whole answers by network (the /24 of IPv4, the /64 of
	// IPv6, as Bulwark's net: subjects), for networks that both databases
	// answer with one record each: a new client of a known network is then
	// one map hit instead of two tree walks (~1 us on a shared core). byAddr
	// holds the addresses of networks the databases split finer. Both are
	// dropped on reload and when full (a generation reset: cheaper than an
	// LRU's bookkeeping on every hit, and a refill costs one walk a key).
	mu     sync.RWMutex
	byNet  map[netip.Addr]Info
	byAddr map[netip.Addr]Info
}

// maxNets and maxAddrs bound the caches (about 100 bytes an entry: small
// enough to stay in the CPU caches).
const (
	maxNets  = 1 << 14
	maxAddrs = 1 << 13
)

// netOf is a's cache network (a unmapped) and its prefix length, masked by
// hand: netip.Addr.Prefix validates and builds a Prefix, several times the
// cost of the map hit it keys.
func netOf(a netip.Addr) (netip.Addr, int) {
	if a.Is4() {
		b := a.As4()
		b[3] = 0
		return netip.AddrFrom4(b), 24
	}
	b := a.As16()
	clear(b[8:])
	return netip.AddrFrom16(b), 64
}

// Open loads the configured databases; it returns nil, nil when none is
// configured.
func Open(cfg Config) (*DB, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	d := &DB{cfg: cfg, byNet: map[netip.Addr]Info{}, byAddr: map[netip.Addr]Info{}}
	for _, x := range []struct {
		path, name string
		dst        *atomic.Pointer[file]
	}{{cfg.CountryDB, "BULWARK_GEOIP_COUNTRY_DB", &d.country}, {cfg.ASNDB, "BULWARK_GEOIP_ASN_DB", &d.asn}} {
		if x.path == "" {
			continue
		}
		f, err := load(x.path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", x.name, err)
		}
		x.dst.Store(f)
	}
	return d, nil
}

// Lookup returns what the databases know about a. Errors (a corrupt
// record) count in Errors and give a zero Info for that database.
func (d *DB) Lookup(a netip.Addr) Info {
	if d == nil || !a.IsValid() {
		return Info{}
	}
	a = a.Unmap()
	n, nbits := netOf(a)
	d.mu.RLock()
	in, ok := d.byNet[n]
	if !ok {
		in, ok = d.byAddr[a]
	}
	d.mu.RUnlock()
	if ok {
		return in
	}
	in, bits := d.lookup(a)
	d.mu.Lock()
	if bits >= 0 && bits <= nbits {
		if len(d.byNet) >= maxNets {
			clear(d.byNet)
		}
		d.byNet[n] = in
	} else {
		if len(d.byAddr) >= maxAddrs {
			clear(d.byAddr)
		}
		d.byAddr[a] = in
	}
	d.mu.Unlock()
	return in
}

// lookup walks the databases; bits is the longest prefix among the
// records found (-1 when unknown or on an error: not cacheable by network).
func (d *DB) lookup(a netip.Addr) (Info, int) {
	var in Info
	bits := 0
	if f := d.country.Load(); f != nil {
		c, b, err := f.lookup(a)
		if err != nil {
			d.errors.Add(1)
		}
		bits = longest(bits, b)
		in.Country = c.Country
		in.ASN, in.ASOrg = c.ASN, c.ASOrg // a combined database (IPinfo Lite) has both
	}
	if f := d.asn.Load(); f != nil {
		n, b, err := f.lookup(a)
		if err != nil {
			d.errors.Add(1)
		}
		bits = longest(bits, b)
		if n.ASN != 0 {
			in.ASN, in.ASOrg = n.ASN, n.ASOrg
		}
		if in.Country == "" {
			in.Country = n.Country
		}
	}
	return in, bits
}

func longest(a, b int) int {
	if a < 0 || b < 0 {
		return -1
	}
	return max(a, b)
}

// Errors counts lookups that failed on a corrupt database.
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
		dst  *atomic.Pointer[file]
	}{{d.cfg.CountryDB, &d.country}, {d.cfg.ASNDB, &d.asn}} {
		if x.path == "" {
			continue
		}
		fi, err := os.Stat(x.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cur := x.dst.Load(); cur != nil && fi.ModTime().Equal(cur.mod) && fi.Size() == cur.size {
			continue
		}
		f, err := load(x.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		x.dst.Store(f)
		changed = true
	}
	if changed {
		d.mu.Lock()
		clear(d.byNet)
		clear(d.byAddr)
		d.mu.Unlock()
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
