package simulate_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
)

// Five minutes of a quiet shop with one kind of bot, written as nginx
// combined lines; the labels say which address is what.
func Example() {
	cfg := simulate.DefaultConfig()
	cfg.Seed = 42
	cfg.Duration = 5 * time.Minute
	cfg.HumansPerMinute = 2
	cfg.BeaconHumansPerMinute = 0
	cfg.Offices = 0
	cfg.DropRushHumans = 0
	cfg.Bots = map[simulate.Kind]float64{simulate.VulnProbe: 1}

	g, err := simulate.New(cfg)
	if err != nil {
		panic(err)
	}
	var r simulate.Request
	for i := 0; i < 3 && g.Next(&r); i++ {
		os.Stdout.Write(simulate.AppendLine(nil, &r, cfg.Format, cfg.Host, false))
	}
	if _, err := simulate.Write(context.Background(), g, discard{}); err != nil {
		panic(err)
	}
	for ip, l := range g.Labels() {
		if l.Kind == simulate.VulnProbe {
			fmt.Println(ip, l.Label, l.Kind)
		}
	}
	// Output:
	// 84.162.171.155 - - [21/Nov/2026:00:00:21 +0000] "GET /product/14582 HTTP/2.0" 200 54194 "-" "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	// 84.162.171.155 - - [21/Nov/2026:00:00:21 +0000] "GET /static/js/app.c04e5f2.js HTTP/2.0" 200 96410 "https://shop.example/product/14582" "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	// 84.162.171.155 - - [21/Nov/2026:00:00:21 +0000] "GET /static/fonts/inter-var.woff2 HTTP/2.0" 200 71340 "https://shop.example/product/14582" "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	// 3.67.243.131 bot vuln_probe
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
