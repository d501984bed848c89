package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
)

func init() { commands = append(commands, newSimulateCmd) }

func newSimulateCmd(g *globals) *cobra.Command {
	cfg := simulate.DefaultConfig()
	var (
		output, labels, format, start, bots string
		rdnsCache                           string
		scenarios                           []string
		live                                bool
	)
	cmd := &cobra.Command{
		Use:   "simulate --duration D --output FILE",
		Short: "Write labelled synthetic shop traffic (humans and bots) as access logs",
		Long: `Generate seeded, reproducible traffic of a web shop: humans browsing with
think times and asset loads, logins, carts and checkouts, an office NAT, and
bots of many kinds (scrapers, credential stuffing, checkout bots at product
drops, vulnerability probes, headless browsers, proxy pools, fake and real
search-engine crawlers). Lines are in event-time order; the same flags give
the same bytes. --labels writes which client address is what, for
'bulwark replay --labels'.

Bot kinds: ` + strings.Join(kindNames(), ", ") + `.

--scenario adds a distributed or long-horizon attack, or a trap that looks
like one but is people, at a time of its own: kind[@START][,for=D][,size=N].
Scenario kinds: ` + strings.Join(campaignNames(), ", ") + `.`,
		Example: `  bulwark simulate --duration 24h --output day.log --labels day.labels.json
  bulwark simulate --duration 1h --seed 7 --bots scraper_fast=10,tool=0 --output -
  bulwark simulate --live --output /var/log/nginx/sim.log   # event time = now, real pace
  bulwark simulate --duration 2h --scenario residential_stuffing@30m,size=800 --scenario flash_sale@1h --output mix.log --labels mix.labels.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			cfg.Format = simulate.Format(format)
			if cfg.Start, err = parseStart(start); err != nil {
				return usageError{err}
			}
			if cfg.Bots, err = parseBots(bots); err != nil {
				return usageError{err}
			}
			for _, s := range scenarios {
				c, err := simulate.ParseCampaign(s)
				if err != nil {
					return usageError{fmt.Errorf("--scenario: %w", err)}
				}
				cfg.Campaigns = append(cfg.Campaigns, c)
			}
			if !live && cfg.Duration <= 0 {
				return usageError{fmt.Errorf("--duration must be above 0 (or use --live)")}
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			out := io.Writer(os.Stdout)
			if output != "-" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			if live {
				return simulateLive(cmd, g, cfg, out)
			}
			gen, err := simulate.New(cfg)
			if err != nil {
				return usageError{err}
			}
			n, err := simulate.Write(cmd.Context(), gen, out)
			if err != nil {
				return err
			}
			if f, ok := out.(*os.File); ok && output != "-" {
				if err := f.Close(); err != nil {
					return fmt.Errorf("close %s: %w", output, err)
				}
			}
			if labels != "" {
				if err := writeLabelsFile(labels, gen.Labels()); err != nil {
					return err
				}
			}
			if rdnsCache != "" {
				f, err := os.Create(rdnsCache)
				if err != nil {
					return err
				}
				err = crawlers.WriteAnswers(f, gen.RDNSAnswers(), cfg.Start)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("write %s: %w", rdnsCache, err)
				}
			}
			g.Log.Info("simulated traffic written", "lines", n, "output", output, "labels", labels,
				"from", cfg.Start.UTC().Format(time.RFC3339), "duration", cfg.Duration, "seed", cfg.Seed,
				"requests_by_kind", fmt.Sprint(gen.Counts()))
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "event time to generate (with --live, 0 runs until interrupted)")
	f.StringVarP(&output, "output", "o", "-", "log file to write, - for stdout")
	f.StringVar(&labels, "labels", "", "also write the labels file (client IP -> label and kind, JSON) here")
	f.StringVar(&rdnsCache, "rdns-cache", "", "also write the reverse-DNS answers a live decider would have cached, for 'bulwark replay --rdns-cache'")
	f.StringVar(&format, "format", string(simulate.Nginx), "log format: nginx (combined) or cloudflare (Logpush JSON)")
	f.BoolVar(&cfg.RequestTime, "request-time", false, `nginx: append ' $request_time "$http_x_forwarded_for"' to combined`)
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed; the same seed and flags give the same output")
	f.StringVar(&start, "start", cfg.Start.Format(time.RFC3339), "event time of the first line (RFC 3339), or 'now'")
	f.Float64Var(&cfg.HumansPerMinute, "humans-per-minute", cfg.HumansPerMinute, "human browsing sessions starting per minute")
	f.IntVar(&cfg.Offices, "offices", cfg.Offices, "office NATs (many humans behind one address)")
	f.IntVar(&cfg.OfficeUsers, "office-users", cfg.OfficeUsers, "people behind each office NAT")
	f.StringVar(&bots, "bots", "", "bot instances started per hour by kind, over the defaults: kind=rate,... ('none' for no bots)")
	f.DurationVar(&cfg.FirstBotsWithin, "first-bots-within", cfg.FirstBotsWithin, "start one instance of every bot kind within this long (0: leave it to chance)")
	f.DurationVar(&cfg.FirstDropAt, "first-drop", cfg.FirstDropAt, "time of the first product drop (checkout bots and a human rush)")
	f.DurationVar(&cfg.DropEvery, "drop-every", cfg.DropEvery, "time between product drops (0: a single drop)")
	f.IntVar(&cfg.DropRushHumans, "drop-rush-humans", cfg.DropRushHumans, "humans rushing to each drop's product")
	f.StringArrayVar(&scenarios, "scenario", nil, "add a scenario, repeatable: kind[@START][,for=D][,size=N] (kinds: "+strings.Join(campaignNames(), ", ")+")")
	f.Float64Var(&cfg.Evasion, "evasion", cfg.Evasion, "fraction of bots (0..1) that try to pass for people; labelled evasive")
	f.Float64Var(&cfg.IPv6Share, "ipv6-share", cfg.IPv6Share, "fraction of clients on IPv6")
	f.StringVar(&cfg.Host, "host", cfg.Host, "the shop's host name")
	f.BoolVar(&live, "live", false, "stream lines stamped now, at real pace (for tailing; --start is ignored)")
	return cmd
}

func simulateLive(cmd *cobra.Command, g *globals, cfg simulate.Config, out io.Writer) error {
	g.Log.Info("streaming simulated traffic at real pace; Ctrl-C stops", "seed", cfg.Seed)
	err := simulate.Live(cmd.Context(), cfg, func(line []byte) error {
		_, err := out.Write(line)
		return err
	})
	if cmd.Context().Err() != nil {
		return nil
	}
	return err
}

func writeLabelsFile(path string, labels map[string]simulate.Label) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := simulate.WriteLabels(f, labels); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func parseStart(s string) (time.Time, error) {
	if s == "now" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--start %q: want RFC 3339 (2026-11-21T00:00:00Z) or now", s)
	}
	return t, nil
}

// parseBots applies "kind=rate,..." over the default mix.
func parseBots(s string) (map[simulate.Kind]float64, error) {
	m := simulate.DefaultBots()
	s = strings.TrimSpace(s)
	if s == "none" {
		return map[simulate.Kind]float64{}, nil
	}
	if s == "" {
		return m, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		rate, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil || rate < 0 {
			return nil, fmt.Errorf("--bots %q: want kind=instances_per_hour,... with kinds %s", kv, strings.Join(kindNames(), ", "))
		}
		m[simulate.Kind(k)] = rate
	}
	return m, nil
}

func campaignNames() []string {
	s := make([]string, len(simulate.CampaignKinds))
	for i, k := range simulate.CampaignKinds {
		s[i] = string(k)
	}
	return s
}

func kindNames() []string {
	s := make([]string, len(simulate.BotKinds))
	for i, k := range simulate.BotKinds {
		s[i] = string(k)
	}
	return s
}
