package simulate_test

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
)

// campaignRun is a run with bots and background humans turned down, so that
// a campaign's requests are easy to see, and a campaign.
func campaignRun(t *testing.T, seed uint64, d time.Duration, c ...simulate.Campaign) ([]simulate.Request, *simulate.Generator) {
	t.Helper()
	cfg := shortConfig(seed)
	cfg.Duration = d
	cfg.Campaigns = c
	return collect(t, cfg)
}

func TestCampaigns(t *testing.T) {
	type stats struct {
		addrs, nets          map[netip.Addr]bool
		posts, fails, assets int
		products             map[string]int
		carts                int
		first, last          int64
	}
	gather := func(reqs []simulate.Request, k simulate.Kind) stats {
		s := stats{addrs: map[netip.Addr]bool{}, nets: map[netip.Addr]bool{}, products: map[string]int{}}
		for _, r := range reqs {
			if r.Kind != k {
				continue
			}
			if s.first == 0 {
				s.first = r.At
			}
			s.last = r.At
			s.addrs[r.IP] = true
			bits := 24
			if r.IP.Is6() {
				bits = 64
			}
			p, _ := r.IP.Prefix(bits)
			s.nets[p.Addr()] = true
			switch {
			case r.Method == "POST" && strings.HasPrefix(r.Target, "/login"):
				s.posts++
				if r.Status == 401 {
					s.fails++
				}
			case strings.HasPrefix(r.Target, "/static/"):
				s.assets++
			case strings.HasPrefix(r.Target, "/product/"):
				s.products[r.Target]++
			case strings.HasPrefix(r.Target, "/cart"):
				s.carts++
			}
		}
		return s
	}
	start := simulate.DefaultStart
	f := func(c simulate.Campaign, d time.Duration, check func(t *testing.T, s stats, labels map[string]simulate.Label)) {
		t.Helper()
		t.Run(string(c.Kind), func(t *testing.T) {
			reqs, g := campaignRun(t, 11, d, c)
			s := gather(reqs, c.Kind)
			if len(s.addrs) == 0 {
				t.Fatalf("%s: no requests", c.Kind)
			}
			if at := time.Unix(0, s.first).UTC(); at.Before(start.Add(c.At)) {
				t.Errorf("%s: first request at %s, before the campaign's start %s", c.Kind, at, start.Add(c.At))
			}
			labels := g.Labels()
			want := simulate.LabelOf(c.Kind)
			for a := range s.addrs {
				if l := labels[a.String()]; l.Label != want || l.Kind != c.Kind {
					t.Fatalf("%s: %s labelled %+v, want %s/%s", c.Kind, a, l, want, c.Kind)
				}
			}
			check(t, s, labels)
		})
	}
	f(simulate.Campaign{Kind: simulate.ResidentialStuffing, At: 5 * time.Minute, For: 20 * time.Minute, Size: 400}, time.Hour,
		func(t *testing.T, s stats, _ map[string]simulate.Label) {
			if len(s.addrs) != 400 || len(s.nets) != 400 {
				t.Errorf("addresses %d in %d networks, want 400 each in its own", len(s.addrs), len(s.nets))
			}
			if per := float64(s.posts) / 400; per < 2 || per > 6 {
				t.Errorf("%.1f login posts per address, want a handful (2..6)", per)
			}
			if s.fails < s.posts*9/10 {
				t.Errorf("%d of %d posts failed, want nearly all", s.fails, s.posts)
			}
			if s.assets < 400*3 {
				t.Errorf("%d asset loads for 400 addresses: each should load the login page's scripts", s.assets)
			}
		})
	f(simulate.Campaign{Kind: simulate.DistributedScraping, At: 2 * time.Minute, Size: 200}, time.Hour,
		func(t *testing.T, s stats, _ map[string]simulate.Label) {
			if len(s.addrs) != 200 {
				t.Errorf("%d addresses, want 200", len(s.addrs))
			}
			total := 0
			for p, n := range s.products {
				total += n
				if n > 1 {
					t.Fatalf("%s fetched %d times: shards should take disjoint ids", p, n)
				}
			}
			if per := float64(total) / 200; per < 3 || per > 13 {
				t.Errorf("%.1f products per address, want a few", per)
			}
		})
	f(simulate.Campaign{Kind: simulate.AllDayScraper, At: time.Minute, For: 3 * time.Hour}, 4*time.Hour,
		func(t *testing.T, s stats, _ map[string]simulate.Label) {
			if len(s.addrs) != 1 {
				t.Errorf("%d addresses, want one", len(s.addrs))
			}
			if perHour := float64(len(s.products)) / 3; perHour < 200 {
				t.Errorf("%.0f distinct products an hour, want hundreds", perHour)
			}
			if s.carts != 0 {
				t.Errorf("%d cart requests, want none", s.carts)
			}
			if d := time.Duration(s.last - s.first); d < 2*time.Hour+50*time.Minute {
				t.Errorf("active for %s, want the whole 3 h", d)
			}
		})
	f(simulate.Campaign{Kind: simulate.FlashSale, At: 10 * time.Minute, Size: 1500}, 40*time.Minute,
		func(t *testing.T, s stats, _ map[string]simulate.Label) {
			if len(s.addrs) < 1000 {
				t.Errorf("%d people, want most of 1500 on their own addresses", len(s.addrs))
			}
			if s.posts < 1400 || s.fails > s.posts/4 {
				t.Errorf("%d login posts, %d failed: want about one each, few typos", s.posts, s.fails)
			}
		})
	f(simulate.Campaign{Kind: simulate.SSOOutage, At: 5 * time.Minute, For: 30 * time.Minute, Size: 300}, time.Hour,
		func(t *testing.T, s stats, _ map[string]simulate.Label) {
			if s.fails < 300*2 {
				t.Errorf("%d failed logins for 300 people, want retries", s.fails)
			}
		})
}

// TestCampaignsLeaveTheRestAlone: adding a campaign changes no other actor's
// requests, so that a day with an attack mixed in is the same day.
func TestCampaignsLeaveTheRestAlone(t *testing.T) {
	plain, _ := campaignRun(t, 5, 15*time.Minute)
	mixed, _ := campaignRun(t, 5, 15*time.Minute, simulate.Campaign{Kind: simulate.ResidentialStuffing, At: time.Minute, Size: 100})
	var rest []simulate.Request
	for _, r := range mixed {
		if r.Kind != simulate.ResidentialStuffing {
			rest = append(rest, r)
		}
	}
	if len(rest) != len(plain) {
		t.Fatalf("%d other requests with the campaign, %d without", len(rest), len(plain))
	}
	for i := range plain {
		if plain[i] != rest[i] {
			t.Fatalf("request %d differs: %+v vs %+v", i, plain[i], rest[i])
		}
	}
}

func TestParseCampaign(t *testing.T) {
	f := func(in string, want simulate.Campaign, wantErr bool) {
		t.Helper()
		got, err := simulate.ParseCampaign(in)
		if wantErr {
			if !errors.Is(err, simulate.ErrConfig) {
				t.Errorf("%q: err %v, want ErrConfig", in, err)
			}
			return
		}
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	f("residential_stuffing", simulate.Campaign{Kind: simulate.ResidentialStuffing}, false)
	f("residential-stuffing@30m,size=800", simulate.Campaign{Kind: simulate.ResidentialStuffing, At: 30 * time.Minute, Size: 800}, false)
	f("allday_scraper@1h,for=6h", simulate.Campaign{Kind: simulate.AllDayScraper, At: time.Hour, For: 6 * time.Hour}, false)
	f("flash_sale@2h", simulate.Campaign{Kind: simulate.FlashSale, At: 2 * time.Hour}, false)
	f("sso_outage,for=1h,size=50", simulate.Campaign{Kind: simulate.SSOOutage, For: time.Hour, Size: 50}, false)
	f("scraper_fast", simulate.Campaign{}, true)
	f("flash_sale@soon", simulate.Campaign{}, true)
	f("flash_sale@-1m", simulate.Campaign{}, true)
	f("flash_sale,size=0", simulate.Campaign{}, true)
	f("flash_sale,for=x", simulate.Campaign{}, true)
	f("flash_sale,colour=red", simulate.Campaign{}, true)
	f("", simulate.Campaign{}, true)
}

func FuzzParseCampaign(f *testing.F) {
	for _, s := range []string{"residential_stuffing@30m,size=800", "allday_scraper@1h,for=6h", "x@", ",,="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := simulate.ParseCampaign(s)
		if err != nil {
			if !errors.Is(err, simulate.ErrConfig) {
				t.Fatalf("%q: error %v does not wrap ErrConfig", s, err)
			}
			return
		}
		back, err := simulate.ParseCampaign(c.String())
		if err != nil {
			t.Fatalf("%q parsed to %+v whose String %q does not parse: %v", s, c, c.String(), err)
		}
		if back.Kind != c.Kind || back.At != c.At {
			t.Fatalf("%q: round trip %+v -> %+v", s, c, back)
		}
	})
}

// TestCampaignDeterministic: the same seed gives the same campaign bytes.
func TestCampaignDeterministic(t *testing.T) {
	cfg := shortConfig(9)
	cfg.Duration = 10 * time.Minute
	cfg.Campaigns = []simulate.Campaign{{Kind: simulate.DistributedScraping, At: time.Minute, Size: 50}, {Kind: simulate.FlashSale, At: 2 * time.Minute, Size: 100}}
	a, _ := run(t, cfg)
	b, _ := run(t, cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same seed and campaigns differ")
	}
}
