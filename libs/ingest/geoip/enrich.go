package geoip

import (
	"net/netip"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Enrich fills ev's GeoCountry, Asn and AsOrg: from the CDN's own fields
// when the source logged them (the CDN saw the connection; a database is
// a guess that ages), else from the databases. With no database
// configured (d == nil) only the CDN's fields are copied.
func (d *DB) Enrich(ev *eventpb.RequestEvent) {
	ev.GeoCountry, ev.Asn = ev.CdnCountry, ev.CdnAsn
	if d == nil || (ev.GeoCountry != "" && ev.Asn != 0 && d.ix.Load().asn == nil) {
		return
	}
	a, err := netip.ParseAddr(ev.ClientIp)
	if err != nil {
		return
	}
	in := d.Lookup(a)
	if ev.GeoCountry == "" {
		ev.GeoCountry = in.Country
	}
	switch {
	case ev.Asn == 0:
		ev.Asn, ev.AsOrg = in.ASN, in.ASOrg
	case ev.Asn == in.ASN:
		ev.AsOrg = in.ASOrg // the CDN gives the number only
	}
}
