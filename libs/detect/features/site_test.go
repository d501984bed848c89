package features

import (
	"testing"
)

func TestParseASNList(t *testing.T) {
	f := func(in string, want []uint32, wantErr bool) {
		t.Helper()
		s, err := ParseASNList([]byte(in))
		if (err != nil) != wantErr {
			t.Fatalf("ParseASNList(%q): err %v, want error %v", in, err, wantErr)
		}
		if wantErr {
			return
		}
		if len(s) != len(want) {
			t.Fatalf("ParseASNList(%q) = %v, want %v", in, s, want)
		}
		for _, a := range want {
			if !s.Has(a) {
				t.Fatalf("ParseASNList(%q) lacks %d", in, a)
			}
		}
	}
	f("", nil, false)
	f("# only a comment\n\n", nil, false)
	f("16509\nAS14618 # Amazon\n  as8075  \n", []uint32{16509, 14618, 8075}, false)
	f("16509\nAmazon\n", nil, true)
	f("0\n", nil, true)
	f("4294967296\n", nil, true)
}

func TestShippedHostingASNs(t *testing.T) {
	s := ShippedHostingASNs()
	for _, a := range []uint32{16509, 14061, 24940} {
		if !s.Has(a) {
			t.Errorf("shipped hosting list lacks AS%d", a)
		}
	}
	if s.Has(3320) || s.Has(0) {
		t.Error("a consumer ISP (AS3320) or the unknown ASN counts as hosting")
	}
}

func TestCountryCode(t *testing.T) {
	f := func(in string, want uint16) {
		t.Helper()
		if got := CountryCode(in); got != want {
			t.Errorf("CountryCode(%q) = %d, want %d", in, got, want)
		}
	}
	f("AA", 1)
	f("aa", 1)
	f("ZZ", 676)
	f("DE", CountryCode("de"))
	f("", 0)
	f("D", 0)
	f("DEU", 0)
	f("D1", 0)
	f("\xff\xff", 0)
}

func TestSiteRarity(t *testing.T) {
	var s Site
	de, br := CountryCode("DE"), CountryCode("BR")
	t0 := int64(1_800_000_000) * sec
	for i := range 990 {
		s.Add(t0+int64(i)*sec, de, 3320)
	}
	var v Vector
	s.Compute(br, 64500, &v)
	if v.Len() != 0 {
		t.Fatalf("rarity before %d site requests: %v", minSiteRequests, v)
	}
	for i := range 10 {
		s.Add(t0+int64(990+i)*sec, br, 64500)
	}
	v = Vector{}
	s.Compute(br, 64500, &v)
	if r, _ := v.Get(CountryRarity); r != 2 {
		t.Errorf("country_rarity of 10 in 1000 requests = %v, want 2", r)
	}
	if r, _ := v.Get(ASNRarity); r != 2 {
		t.Errorf("asn_rarity of 10 in 1000 requests = %v, want 2", r)
	}
	v = Vector{}
	s.Compute(de, 3320, &v)
	if r, _ := v.Get(CountryRarity); r != 0.004 {
		t.Errorf("country_rarity of 990 in 1000 requests = %v, want 0.004", r)
	}
	v = Vector{}
	s.Compute(0, 0, &v)
	if v.Len() != 0 {
		t.Errorf("rarity of an unknown place: %v", v)
	}
	// Six hours later the counts have halved: too few requests again.
	s.Add(t0+siteHalfLife, de, 3320)
	if s.Total != 501 {
		t.Errorf("total after a half-life = %d, want 501", s.Total)
	}
}

func TestNetHostingShare(t *testing.T) {
	var n Net
	t0 := int64(1_800_000_000) * sec
	for i := range 4 {
		n.Update(&Obs{T: t0 + int64(i)*sec, IP: 1}, false)
	}
	var v Vector
	n.Compute(n.Last, &v)
	if _, ok := v.Get(NetHostingShare10m); ok {
		t.Fatal("net_hosting_share_10m without any known AS number")
	}
	for i := range 8 {
		n.Update(&Obs{T: t0 + int64(10+i)*sec, IP: 2, ASN: 16509, Hosting: i < 6}, false)
	}
	v = Vector{}
	n.Compute(n.Last, &v)
	if got, _ := v.Get(NetHostingShare10m); got != 0.75 {
		t.Fatalf("net_hosting_share_10m = %v, want 0.75 (6 of the 8 requests with a known ASN)", got)
	}
}
