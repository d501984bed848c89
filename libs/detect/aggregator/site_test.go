package aggregator

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// siteTraffic is 1,200 requests from German consumer ISPs and, at the end,
// a client on a cloud network in a country the site never sees.
func siteTraffic() []*eventpb.RequestEvent {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var evs []*eventpb.RequestEvent
	for i := range 1200 {
		evs = append(evs, &eventpb.RequestEvent{
			ClientIp: fmt.Sprintf("198.51.100.%d", i%200+1), TimeUnixNano: t0.Add(time.Duration(i) * 250 * time.Millisecond).UnixNano(),
			Method: "GET", Path: fmt.Sprintf("/product/%d", i), Status: 200, UserAgent: chromeUA,
			GeoCountry: "DE", Asn: 3320,
		})
	}
	for i := range 12 {
		evs = append(evs, &eventpb.RequestEvent{
			ClientIp: "203.0.113.9", TimeUnixNano: t0.Add(5*time.Minute + time.Duration(i)*time.Second).UnixNano(),
			Method: "GET", Path: fmt.Sprintf("/product/%d", 9000+i), Status: 200, UserAgent: chromeUA,
			GeoCountry: "KP", Asn: 16509,
		})
	}
	return evs
}

func TestSiteFeatures(t *testing.T) {
	e := NewEngine(testConfig())
	var last = map[string]*eventpb.Score{}
	for _, ev := range siteTraffic() {
		for _, s := range e.Process(ev, nil) {
			last[s.Subject] = s
		}
	}
	ip := last["ip:203.0.113.9"]
	if ip == nil {
		t.Fatal("no score of the cloud client")
	}
	if r := ip.Features["country_rarity"]; r < 2 {
		t.Errorf("country_rarity of the cloud client = %v, want >= 2 (12 of 1,212 requests)", r)
	}
	if r := ip.Features["asn_rarity"]; r < 2 {
		t.Errorf("asn_rarity of the cloud client = %v, want >= 2", r)
	}
	net := last["net:203.0.113.0/24"]
	if net == nil || net.Features["net_hosting_share_10m"] != 1 {
		t.Fatalf("net score of the cloud network: %v", net)
	}
	found := false
	for _, r := range net.Reasons {
		found = found || r == "hosting_network"
	}
	if !found {
		t.Errorf("net reasons %v lack hosting_network", net.Reasons)
	}
	if p := last["ip:198.51.100.1"]; p != nil {
		if r, ok := p.Features["country_rarity"]; ok && r > 0.1 {
			t.Errorf("country_rarity of a German client of a German site = %v", r)
		}
		if _, ok := p.Features["net_hosting_share_10m"]; ok {
			t.Error("an ip: subject has a net feature")
		}
	}
}

// The site counts are state: an engine restored from the records scores
// the rest of the traffic as one that never stopped.
func TestSiteStateRoundTrip(t *testing.T) {
	evs := siteTraffic()
	first, second := evs[:1205], evs[1205:]
	whole := NewEngine(testConfig())
	scoresOf(t, whole, first)
	want := scoresOf(t, whole, second)

	a := NewEngine(testConfig())
	a.TrackChanges()
	scoresOf(t, a, first)
	b := NewEngine(testConfig())
	sawSite := false
	a.Changes(func(k, v []byte) {
		sawSite = sawSite || k[0] == recSite
		if err := b.Load(k, v); err != nil {
			t.Fatalf("load %q: %v", k, err)
		}
	})
	if !sawSite {
		t.Fatal("no site record among the changes")
	}
	if b.site != a.site {
		t.Fatal("restored site counts differ")
	}
	if got := scoresOf(t, b, second); string(got) != string(want) {
		t.Fatal("scores after a restore differ from an uninterrupted run")
	}
	// Without geo fields nothing is written.
	c := NewEngine(testConfig())
	c.TrackChanges()
	c.Process(&eventpb.RequestEvent{ClientIp: "198.51.100.1", TimeUnixNano: time.Now().UnixNano(), Method: "GET", Path: "/"}, nil)
	c.Changes(func(k, _ []byte) {
		if k[0] == recSite {
			t.Error("a site record without any geo field")
		}
	})
	if (features.Site{}) != c.site {
		t.Error("site counts without any geo field")
	}
}

func TestSiteRecordFieldNames(t *testing.T) {
	p := planOf(reflect.TypeFor[features.Site]())
	for _, name := range []string{"period", "total", "countries", "asns"} {
		if _, ok := p.byName[name]; !ok {
			t.Errorf("site record lacks field %q (schemas/proto/bulwark/v1/aggregator_state.proto names it)", name)
		}
	}
}
