package crawlers_test

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
)

// BenchmarkNoClaim is what verification costs for a client that claims no
// bot, the common case: with the whole directory (56 bots) and with the
// five crawlers Bulwark verified before it, for a User-Agent seen before
// (the cache; a site sees a few thousand a day) and for one never seen
// (every pattern tried, in one pass of the combined automaton).
func BenchmarkNoClaim(b *testing.B) {
	all, err := crawlers.BuiltinDirectory().Crawlers()
	if err != nil {
		b.Fatal(err)
	}
	var five []crawlers.Crawler
	for _, c := range all {
		switch c.Name {
		case "googlebot", "bingbot", "applebot", "yandexbot", "baiduspider":
			five = append(five, c)
		}
	}
	addr := netip.MustParseAddr("198.51.100.7")
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 "
	for _, set := range []struct {
		name string
		cs   []crawlers.Crawler
	}{{"directory", all}, {"five", five}} {
		v, err := crawlers.New(crawlers.Config{Crawlers: set.cs}, nil, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("seen/"+set.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v.CheckAsyncAt(ua, addr, at).Status != crawlers.NotClaimed {
					b.Fatal("claimed")
				}
			}
		})
		uas := make([]string, 1<<16)
		for i := range uas {
			uas[i] = ua + strconv.Itoa(i)
		}
		b.Run("new/"+set.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				v.CheckAsyncAt(uas[i&(len(uas)-1)], addr, at)
				i++
			}
		})
	}
}
