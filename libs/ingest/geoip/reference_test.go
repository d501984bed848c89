package geoip

import (
	"net/netip"
	"os"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

// walker answers straight from maxminddb's search tree, decoding each
// record once by its offset: the way this package worked before it
// compiled the databases. It is the oracle of the equivalence test and
// the baseline of BenchmarkEnrich.
type walker struct {
	country, asn *maxminddb.Reader
	decoded      map[uintptr]Info // by offset; the two files' offsets are told apart by the low bit below
}

func openWalker(tb testing.TB, cfg Config) *walker {
	tb.Helper()
	w := &walker{decoded: map[uintptr]Info{}}
	for _, x := range []struct {
		path string
		dst  **maxminddb.Reader
	}{{cfg.CountryDB, &w.country}, {cfg.ASNDB, &w.asn}} {
		if x.path == "" {
			continue
		}
		data, err := os.ReadFile(x.path)
		if err != nil {
			tb.Fatal(err)
		}
		if *x.dst, err = maxminddb.OpenBytes(data); err != nil {
			tb.Fatal(err)
		}
	}
	return w
}

func (w *walker) record(r *maxminddb.Reader, which uintptr, a netip.Addr) Info {
	if r == nil {
		return Info{}
	}
	res := r.Lookup(a)
	if res.Err() != nil || !res.Found() {
		return Info{}
	}
	key := res.Offset()<<1 | which
	if in, ok := w.decoded[key]; ok {
		return in
	}
	var rec record
	if err := res.Decode(&rec); err != nil {
		return Info{}
	}
	in := rec.info()
	w.decoded[key] = in
	return in
}

// lookup combines the two databases as DB.Lookup does.
func (w *walker) lookup(a netip.Addr) Info {
	a = a.Unmap()
	in := w.record(w.country, 0, a)
	n := w.record(w.asn, 1, a)
	if n.ASN != 0 {
		in.ASN, in.ASOrg = n.ASN, n.ASOrg
	}
	if in.Country == "" {
		in.Country = n.Country
	}
	return in
}
