package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/detect/signatures"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/ingest/geoip"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

func init() { commands = append(commands, newReplayCmd) }

func newReplayCmd(g *globals) *cobra.Command {
	var (
		cfg                         replay.Config
		pf                          parseFlags
		geo                         geoip.Config
		modelMode                   string
		output, labels, attackFile  string
		rdnsCache                   string
		since, until                string
		progress, noProgress, quiet bool
	)
	cmd := &cobra.Command{
		Use:   "replay --format F [--rules FILE] [--output FILE] FILE... | replay --topic --since T --until T",
		Short: "Run logs (or the requests topic) through the aggregator and decider offline; print verdict changes",
		Long: `Replay recorded traffic through the same aggregator and decider code as the
services, in one process and in event-time order, and write one verdict JSON
line per verdict change. The same input and rules give the same output, byte
for byte. Nothing is written to Kafka.

Input: log files in --format (several files are merged by event time; .gz
and .zst files are read compressed; --log-format, --json-fields and
--session-* say how your log is written, as for 'bulwark ship'), or with --topic the requests topic between
--since and --until. --rules defaults to the rule file shipped with Bulwark.
Self-declared bots are verified by their published ranges (only those that
speak for the events' dates) and by the reverse-DNS answers in --rdns-cache
(from 'bulwark bots export-cache' on a live decider), never by live lookups,
so that the output is reproducible. Without a cache, a bot only reverse DNS
can verify (Baidu, Yandex ...) is unverifiable, never called fake. The verdict
lines include expiries and lifts as ALLOW lines.

--compare OTHER_RULES runs a second rule file side by side and reports the
subjects whose strongest action differs; --compare MODEL.json runs the rules
with that learned model ('bulwark train') against the rules alone. --model
FILE scores with a learned model (--model-mode shadow|blend|replace).
--attack-mode runs the site-wide baselines and attack mode; the operators'
start and end records (--attacks FILE, and with --topic the attacks topic's)
are applied at their event time, as the live aggregators applied them.
--labels FILE (from 'bulwark
simulate --labels', or SUBJECT LABEL lines as labelled datasets publish them)
reports precision, recall and false positives by kind: per client address, or,
when every label names a session, per session of the log (flagged when a
CHALLENGE or BLOCK verdict named it).
Reports go to stdout when --output is a file, else to stderr.`,
		Example: `  bulwark simulate --duration 24h --output day.log --labels day.labels.json
  bulwark replay --format nginx --labels day.labels.json --output verdicts.jsonl day.log
  bulwark replay --format nginx --rules mine.yaml --compare candidate.yaml --output /dev/null day.log
  bulwark replay --format nginx --labels day.labels.json --compare model.json --output /dev/null day.log
  bulwark replay --topic --since 2026-11-21T00:00:00Z --until 2026-11-22T00:00:00Z
  bulwark replay --format apache --log-format '%h %l %t "%r" %>s %b "%{Referer}i" %{SESSION_ID}e "%{User-Agent}i"' \
    --session-field SESSION_ID --labels test.txt --model model.json --output /dev/null access.log`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Files = args
			if cfg.Reorder == 0 {
				cfg.Reorder = -1 // the flag's 0 means file order
			}
			if !cfg.Topic {
				var err error
				if cfg.Format, cfg.ParseOptions, err = pf.options(0); err != nil {
					return usageError{err}
				}
				var env geoip.Config
				if err := config.Parse(&env, nil); err != nil {
					return err
				}
				if !cmd.Flags().Changed("geoip-country-db") {
					geo.CountryDB = env.CountryDB
				}
				if !cmd.Flags().Changed("geoip-asn-db") {
					geo.ASNDB = env.ASNDB
				}
				if cfg.GeoIP, err = geoip.Open(geo); err != nil {
					return usageError{err}
				}
			}
			cfg.Kafka = g.Kafka
			cfg.Log = g.Log
			var err error
			if cfg.Since, err = parseTimeFlag("--since", since); err != nil {
				return usageError{err}
			}
			if cfg.Until, err = parseTimeFlag("--until", until); err != nil {
				return usageError{err}
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			if cfg.ModelMode, err = model.ParseMode(modelMode); err != nil {
				return usageError{fmt.Errorf("--model-mode: %w", err)}
			}
			if cfg.ModelWeight < 0 || cfg.ModelWeight > 1 {
				return usageError{fmt.Errorf("--model-weight %v: want 0..1", cfg.ModelWeight)}
			}
			for _, f := range append(append([]string{}, args...), cfg.Rules, cfg.Compare, cfg.Model) {
				if f == "" {
					continue
				}
				if _, err := os.Stat(f); err != nil {
					return usageError{err}
				}
			}
			if labels != "" {
				f, err := os.Open(labels)
				if err != nil {
					return usageError{err}
				}
				cfg.Labels, err = simulate.ParseLabels(f)
				f.Close()
				if err != nil {
					return usageError{fmt.Errorf("--labels %s: %w", labels, err)}
				}
			}
			if attackFile != "" {
				if !cfg.AttackMode {
					return usageError{errors.New("--attacks needs --attack-mode")}
				}
				f, err := os.Open(attackFile)
				if err != nil {
					return usageError{err}
				}
				recs, err := replay.ReadAttackRecords(f)
				f.Close()
				if err != nil {
					return usageError{fmt.Errorf("--attacks %s: %w", attackFile, err)}
				}
				cfg.OperatorRecords = append(cfg.OperatorRecords, recs...)
			}
			if cfg.Topic && cfg.AttackMode {
				// What the live aggregators applied: the operators' records
				// of the attacks topic.
				recs, err := replay.ReadAttackTopic(cmd.Context(), g.Kafka)
				if err != nil {
					return err
				}
				cfg.OperatorRecords = append(cfg.OperatorRecords, recs...)
			}
			if rdnsCache != "" {
				f, err := os.Open(rdnsCache)
				if err != nil {
					return usageError{err}
				}
				cfg.RDNSCache, err = crawlers.ReadAnswers(f)
				f.Close()
				if err != nil {
					return usageError{fmt.Errorf("--rdns-cache %s: %w", rdnsCache, err)}
				}
			}
			// The command's writers (os.Stderr, os.Stdout unless a caller set
			// others): tests read the reports.
			report := cmd.ErrOrStderr()
			cfg.Output = cmd.OutOrStdout()
			if output != "" && output != "-" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				cfg.Output = f
				report = cmd.OutOrStdout()
			}
			if (progress || replay.IsTerminal(os.Stderr)) && !noProgress && !quiet {
				cfg.Progress = os.Stderr
			}
			res, err := replay.Run(cmd.Context(), cfg)
			if err != nil {
				if errors.Is(err, replay.ErrNoInput) || errors.Is(err, rules.ErrInvalid) || errors.Is(err, signatures.ErrInvalid) || errors.Is(err, model.ErrFormat) {
					return usageError{err}
				}
				return err
			}
			if res.Events == 0 && res.Lines > 0 && res.Skipped == 0 {
				return usageError{fmt.Errorf("none of the %d lines parsed as %s (%s); wrong --format or --log-format?", res.Lines, pf.format, badSummary(res.Bad))}
			}
			if f, ok := cfg.Output.(*os.File); ok && f != os.Stdout {
				if err := f.Close(); err != nil {
					return fmt.Errorf("close %s: %w", output, err)
				}
			}
			if !quiet {
				fmt.Fprintln(os.Stderr, summary(res))
			}
			if res.TooLate() {
				// Loud even with --quiet: the verdicts miss this traffic.
				fmt.Fprintln(os.Stderr, lateWarning(res, cfg))
			}
			if cfg.AttackMode {
				writeAttacks(report, res.Attacks)
			}
			if res.Diff != nil {
				if err := res.Diff.WriteReport(report); err != nil {
					return err
				}
			}
			for _, ev := range []struct {
				rules string
				e     *replay.Evaluation
			}{{cfg.Rules, res.Evaluation}, {cfg.Compare, res.CompareEvaluation}} {
				if ev.e == nil {
					continue
				}
				if res.Diff != nil {
					fmt.Fprintln(report)
				}
				with := ""
				if ev.e == res.Evaluation && cfg.Model != "" {
					with = " with the model " + cfg.Model + " (" + cfg.ModelMode.String() + ")"
				}
				fmt.Fprintf(report, "labels (rules %s%s):\n\n", rulesName(ev.rules), with)
				if err := ev.e.WriteReport(report); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	pf.register(f)
	f.StringVar(&geo.CountryDB, "geoip-country-db", "", "MaxMind-format country database to enrich events with (default $BULWARK_GEOIP_COUNTRY_DB)")
	f.StringVar(&geo.ASNDB, "geoip-asn-db", "", "MaxMind-format ASN database (default $BULWARK_GEOIP_ASN_DB)")
	f.BoolVar(&cfg.Topic, "topic", false, "replay the requests topic instead of files (with --since/--until)")
	f.StringVar(&since, "since", "", "only events at or after this time (RFC 3339)")
	f.StringVar(&until, "until", "", "only events before this time (RFC 3339)")
	f.StringVar(&cfg.Rules, "rules", "", "rule file (default: the one shipped with Bulwark)")
	f.StringVar(&cfg.Signatures, "signatures", "", "request-signature file read over the shipped signatures (see 'bulwark signatures')")
	f.BoolVar(&cfg.NoSignatures, "no-signatures", false, "turn the request-signature layer off")
	f.DurationVar(&cfg.Reorder, "reorder-window", replay.DefaultReorder, "read each file this far ahead to put its lines in time order (logs of several workers interleave); 0 for file order")
	f.DurationVar(&cfg.AllowedLateness, "allowed-lateness", aggregator.DefaultAllowedLateness, "events this much older than the newest one are still merged; later ones are dropped as too late")
	f.BoolVar(&cfg.AttackMode, "attack-mode", false, "site-wide baselines per endpoint class and attack mode (as the aggregator with BULWARK_AGGREGATOR_ATTACK_MODE=true); lists the attacks raised")
	f.StringVar(&attackFile, "attacks", "", "operators' attack records to apply in attack mode (JSON lines of 'bulwark attack list --all --json' or 'bulwark tail attacks'); with --topic the attacks topic's are applied too")
	f.StringVar(&cfg.Compare, "compare", "", "second rule file, or a model file (*.json: the --rules with that model): report subjects whose action differs")
	f.StringVar(&cfg.Model, "model", "", "model file from 'bulwark train' to score with (instead of the rule file's model: section)")
	f.StringVar(&modelMode, "model-mode", "blend", "how --model (and a model given to --compare) is used: shadow, blend or replace")
	f.Float64Var(&cfg.ModelWeight, "model-weight", rules.DefaultModelWeight, "the model's weight in blend mode, 0..1 (at 0.8 the model alone reaches CHALLENGE at p >= 0.875)")
	f.StringVar(&rdnsCache, "rdns-cache", "", "reverse-DNS answers recorded live ('bulwark bots export-cache'): verify bots by them")
	f.StringVar(&labels, "labels", "", "labels file: the JSON of 'bulwark simulate --labels', or SUBJECT LABEL lines (bare ids are session ids; human, bot, verified_crawler, NAME_bot): report precision and recall by kind")
	f.StringVarP(&output, "output", "o", "-", "where to write verdict JSON lines, - for stdout")
	f.BoolVar(&progress, "progress", false, "print a progress line on stderr even when it is not a terminal")
	f.BoolVar(&noProgress, "no-progress", false, "never print a progress line")
	f.BoolVarP(&quiet, "quiet", "q", false, "print no summary or progress (reports still print)")
	return cmd
}

func badSummary(bad map[string]int64) string {
	var parts []string
	for _, reason := range logparse.Reasons {
		if n := bad[reason]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", reason, n))
		}
	}
	return strings.Join(parts, ", ")
}

// lateWarning says how much traffic a replay dropped as too late, and the
// flags that fix it.
func lateWarning(r *replay.Result, cfg replay.Config) string {
	reorder := cfg.Reorder
	if reorder < 0 {
		reorder = 0
	}
	return fmt.Sprintf("WARNING: %d of %d events (%.1f%%) came later than the allowed lateness and were DROPPED: "+
		"the verdicts above miss them. The log is more out of order than --reorder-window %s and --allowed-lateness %s cover; "+
		"rerun with a larger --reorder-window (e.g. --reorder-window %s)",
		r.Late, r.Events, 100*float64(r.Late)/float64(r.Events), reorder, cfg.AllowedLateness, max(2*reorder, 5*time.Minute))
}

func rulesName(path string) string {
	if path == "" {
		return "shipped default"
	}
	return path
}

func parseTimeFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want RFC 3339, e.g. 2026-11-21T00:00:00Z", name, s)
	}
	return t, nil
}

func summary(r *replay.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "replayed %d lines (%d events", r.Lines, r.Events)
	if r.Skipped > 0 {
		fmt.Fprintf(&b, ", %d outside --since/--until", r.Skipped)
	}
	for _, reason := range logparse.Reasons {
		if n := r.Bad[reason]; n > 0 {
			fmt.Fprintf(&b, ", %d %s", n, reason)
		}
	}
	if r.Late > 0 {
		fmt.Fprintf(&b, ", %d too late", r.Late)
	}
	fmt.Fprintf(&b, ") in %s, %.0f lines/s", r.Elapsed.Round(time.Millisecond), r.LinesPerSecond())
	if !r.First.IsZero() {
		fmt.Fprintf(&b, "; event time %s .. %s", r.First.Format(time.RFC3339), r.Last.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "; %d scores, %d verdict changes", r.Scores, r.Verdicts)
	for _, a := range []string{"BLOCK", "CHALLENGE", "MONITOR", "ALLOW"} {
		if n := r.ByAction[a]; n > 0 {
			fmt.Fprintf(&b, ", %d %s", n, a)
		}
	}
	return b.String()
}

// writeAttacks lists the attacks a replay raised, one a line.
func writeAttacks(w io.Writer, as []*eventpb.Attack) {
	fmt.Fprintf(w, "attacks: %d\n", len(as))
	for _, a := range as {
		end := "active at the end"
		if a.GetEndedUnixNano() != 0 {
			end = "ended " + time.Unix(0, a.GetEndedUnixNano()).UTC().Format("15:04Z")
		}
		fmt.Fprintf(w, "  %s  %s  strength %.1f  %s\n", a.GetId(), end, a.GetStrength(), a.GetReason())
	}
	fmt.Fprintln(w)
}
