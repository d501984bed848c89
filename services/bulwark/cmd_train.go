package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/detect/model"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/detect/signatures"
	"github.com/bulwarkhq/bulwark/libs/devtools/replay"
	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/devtools/training"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
)

func init() { commands = append(commands, newTrainCmd) }

func newTrainCmd(g *globals) *cobra.Command {
	var (
		cfg          training.Config
		pf           parseFlags
		labels, out  string
		since, until string
		threshold    float64
		fromFeedback bool
		promote      string
		metricsFile  string
		follow       bool
		every        time.Duration
		afterLabels  int
		window       time.Duration
		metricsAddr  string
		mlp          = model.DefaultMLPParams()
		chInput      string
		evaluate     string
	)
	cfg.Params = model.DefaultParams()
	cmd := &cobra.Command{
		Use:   "train --format F --labels FILE --output MODEL.json FILE... | train --topic|--clickhouse ADDR --since T --until T --labels FILE|--feedback --output MODEL.json",
		Short: "Train a learned model (gradient-boosted trees, or an MLP with --algo mlp) from labelled traffic; print its held-out figures next to the rules'",
		Long: `Build a training set from labelled traffic and train a model the aggregator
can score with (the rule file's 'model:' section, or BULWARK_MODEL_FILE).

Samples are the feature vectors the aggregator computes, by the same code in
event time (the input is replayed as by 'bulwark replay', with the same
--format/--log-format flags, or the requests topic with --topic), taken at
several points of each ip: subject's life (the model scores ip: subjects): its first scores, then
at every power of two and every 32nd, so that the model learns to decide
early. --labels is the JSON of 'bulwark simulate --labels': keys are client IPs
or session:ID subjects, values {"label": "bot"|"human"|"verified_crawler",
"kind": ...}; or plain SUBJECT LABEL lines as labelled datasets publish them
(a bare id is a session id; LABEL human, bot, verified_crawler or NAME_bot, a
bot of kind NAME_bot). Verified crawlers are left out (the decider verifies them);
unlabelled clients are skipped. One subject weighs at most --per-subject
samples. --feedback adds labels from the feedback topic (a passed challenge:
human; a failed one with a failed check, or 'bulwark label ... bot': bot;
issued and abandoned challenges prove nothing and are not learned; at most 20
labels per network and 500 per hour of each kind), typically with --topic.

--clickhouse host:port (or clickhouse://user:password@host:port/database)
reads the requests table bulwark-chsink fills instead, for --since/--until,
and with --feedback takes the labels from its feedback table (the same rules
and caps). Rows written before migration 009 lack malformed, sec_fetch_mode
and sec_fetch_dest: the features built from them stay empty there.

--algo mlp trains a small neural network (--hidden, --epochs, --seed)
instead of the trees; the aggregator loads either. On held-out simulator
traffic the trees did better, hence the default (BENCHMARKS.md).

--evaluate MODEL.json trains nothing: it builds the samples of the input the
same way and prints the model's figures on all of them next to the rules' (a
model trained on one day, tested on another).

--promote MODEL.json retrains in place: the new model replaces the file the
aggregator reads (and reloads) only if, on the held-out samples, it is no worse
than the model in it on precision and on recall; the replaced model is kept as
<name>.<id>.json, a refused candidate as <name>.refused-<id>.json. Run it on a
schedule (cron, a Kubernetes CronJob) with --topic --since --feedback, or let
--follow run it:

--follow keeps running beside the aggregator (sharing the model file with
it): it follows the feedback topic and retrains, evaluates and promotes into
--promote every --every, and after --after-labels new labels (records that
are evidence: operator labels, passed challenges, failed ones with a failed
check), whichever comes first. With --topic each run trains on the requests
of the last --window; with files it re-reads them. Each run prints its report,
logs its decision and exports its figures on --metrics-addr (/metrics:
bulwark_model_promotion_precision and _recall by model, _promoted,
bulwark_model_training_runs_total by trigger and outcome,
bulwark_model_training_labels_since_last). A failed run (no labelled
samples yet, Kafka down) is logged and counted; the model in force stays.
SIGINT or SIGTERM stops it, between runs or mid-run (the model file is only
ever replaced whole, by a rename).

The latest --test-share of the samples (by event time) is held out: the
report gives precision, recall, false-positive rate and ROC-AUC of the model
at --threshold and of the rules at the ladder's challenge level on the same
samples, per sample and per subject, and per kind. The model file records its
feature schema, the training data's digest, the parameters and these figures.
The same input and flags give the same model (its id is a hash of the trees).`,
		Example: `  bulwark simulate --duration 4h --seed 1 --evasion 0.5 --output train.log --labels train.labels.json
  bulwark train --format nginx --labels train.labels.json --output model.json train.log
  bulwark replay --format nginx --labels test.labels.json --compare model.json --output /dev/null test.log
  bulwark train --follow --topic --window 24h --every 6h --after-labels 500 --promote /var/lib/bulwark/model/model.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			mlp.Seed = cfg.Seed // one --seed: the split, the folds and the MLP's weights
			if err := setAlgo(&cfg.Params, mlp); err != nil {
				return usageError{err}
			}
			rc := &cfg.Replay
			rc.Files = args
			rc.Reorder = replay.DefaultReorder
			ch, err := openTrainClickHouse(cmd.Context(), chInput, rc)
			if err != nil {
				return err
			}
			if ch != nil {
				defer ch.close()
			}
			if !rc.Topic && ch == nil {
				var err error
				if rc.Format, rc.ParseOptions, err = pf.options(0); err != nil {
					return usageError{err}
				}
			}
			rc.Kafka, rc.Log = g.Kafka, g.Log
			if rc.Since, err = parseTimeFlag("--since", since); err != nil {
				return usageError{err}
			}
			if rc.Until, err = parseTimeFlag("--until", until); err != nil {
				return usageError{err}
			}
			if err := rc.Validate(); err != nil {
				return usageError{err}
			}
			if follow {
				switch {
				case promote == "":
					return usageError{errors.New("--follow retrains in place: --promote MODEL.json is required")}
				case out != "":
					return usageError{errors.New("--follow writes the model with --promote, not --output")}
				case since != "" || until != "":
					return usageError{errors.New("--follow reads a moving range: use --window, not --since/--until")}
				case window <= 0:
					return usageError{errors.New("--window must be positive")}
				}
				fromFeedback = true
			}
			if evaluate != "" {
				if out != "" || promote != "" || follow {
					return usageError{errors.New("--evaluate trains nothing: no --output, --promote or --follow")}
				}
				m, err := model.Load(evaluate)
				if err != nil {
					return usageError{fmt.Errorf("--evaluate: %w", err)}
				}
				cfg.Evaluate = m
			}
			if fromFeedback && !cmd.Flags().Changed("subjects") {
				// Feedback names sessions the aggregator derived (a challenge
				// passed by "h-..."): they label their address's vector, as
				// before sessions could be learned.
				cfg.Subjects = model.SubjectIP
			}
			if (labels == "" && !fromFeedback) || (out == "" && promote == "" && evaluate == "") {
				return usageError{errors.New("--output or --promote (or --evaluate), and --labels or --feedback, are required")}
			}
			if promote != "" && cfg.TestShare == 0 {
				return usageError{errors.New("--promote compares on the held-out samples: --test-share must not be 0")}
			}
			for _, f := range append(append([]string{}, args...), rc.Rules, labels) {
				if f == "" {
					continue
				}
				if _, err := os.Stat(f); err != nil {
					return usageError{err}
				}
			}
			rs, err := rules.LoadOrDefault(rc.Rules)
			if err != nil {
				return usageError{err}
			}
			cfg.RuleThreshold = rs.Ladder.Challenge
			cfg.Threshold = threshold
			if !cmd.Flags().Changed("threshold") {
				cfg.Threshold = rs.Ladder.Challenge / 100
			}
			w := cmd.OutOrStdout()
			// once trains, reports and promotes; --follow calls it again
			// whenever the schedule or the label count says so.
			once := func(ctx context.Context) (*training.Decision, error) {
				cfg := cfg
				if follow && (cfg.Replay.Topic || ch != nil) {
					cfg.Replay.Until = time.Now().UTC()
					cfg.Replay.Since = cfg.Replay.Until.Add(-window)
				}
				cfg.Labels = map[string]simulate.Label{}
				if ch != nil {
					cfg.Replay.Events = ch.requests(cfg.Replay.Since, cfg.Replay.Until)
					defer cfg.Replay.Events.Close()
				}
				if fromFeedback {
					read := training.ReadFeedback
					if ch != nil {
						read = ch.feedback
					}
					fbs, bad, err := read(ctx, g.Kafka)
					if err != nil {
						return nil, fmt.Errorf("--feedback: %w", err)
					}
					var st training.FeedbackStats
					cfg.Labels, st = training.FeedbackLabels(fbs, training.DefaultFeedbackLimits())
					fmt.Fprintf(w, "feedback: %d records (%d unreadable): %d human and %d bot labels; %d records no evidence, %d subjects in conflict, %d labels over the per-network/per-hour caps, %d unusable\n",
						st.Records, bad, st.Human, st.Bot, st.Unverified, st.Conflicts, st.Capped, st.Unusable)
				}
				if labels != "" {
					// Read at every run: --follow picks up an edited file.
					lf, err := os.Open(labels)
					if err != nil {
						return nil, usageError{err}
					}
					file, err := simulate.ParseLabels(lf)
					lf.Close()
					if err != nil {
						return nil, usageError{fmt.Errorf("--labels %s: %w", labels, err)}
					}
					maps.Copy(cfg.Labels, file) // the file's labels win over the feedback's
				}
				start := time.Now()
				res, err := training.Run(ctx, cfg)
				if err != nil {
					if errors.Is(err, replay.ErrNoInput) || errors.Is(err, rules.ErrInvalid) || errors.Is(err, signatures.ErrInvalid) || errors.Is(err, training.ErrNoSamples) {
						return nil, usageError{err}
					}
					return nil, err
				}
				if cfg.Evaluate != nil {
					writeEvaluateReport(w, res, time.Since(start), rc.Rules)
					return nil, nil
				}
				res.File.Data.LabelsFile = labels
				if ch != nil {
					res.File.Data.Sources = []string{ch.source()}
				}
				writeTrainReport(w, res, time.Since(start), rc.Rules)
				if out != "" {
					if err := model.Save(out, res.File); err != nil {
						return nil, err
					}
					fmt.Fprintf(w, "\nwrote %s (%s)\n", out, res.File.ID)
				}
				if promote == "" {
					return nil, nil
				}
				d, err := training.Promote(res, promote)
				if err != nil {
					return nil, err
				}
				if metricsFile != "" {
					if err := training.WriteMetrics(metricsFile, d, time.Now()); err != nil {
						return nil, fmt.Errorf("--metrics-file: %w", err)
					}
				}
				writePromotion(w, res.File.ID, promote, d)
				if !follow { // --follow's Follower logs its decisions
					cur := []any{}
					if d.Current != nil {
						cur = []any{"in_force_precision", d.Current.Precision, "in_force_recall", d.Current.Recall}
					}
					g.Log.Info("model promotion", append([]any{"candidate", res.File.ID, "promoted", d.Promoted, "reason", d.Reason,
						"candidate_precision", d.Candidate.Precision, "candidate_recall", d.Candidate.Recall, "kept", d.Kept}, cur...)...)
				}
				return d, nil
			}
			if !follow {
				_, err := once(cmd.Context())
				return err
			}
			reg := service.NewRegistry()
			fl, err := training.NewFollower(training.FollowConfig{Every: every, AfterLabels: afterLabels, Kafka: g.Kafka, Log: g.Log, Retrain: once}, reg)
			if err != nil {
				return usageError{err}
			}
			return service.RunWithAdmin(cmd.Context(), g.Log, "train --follow", service.Admin{Addr: metricsAddr, Registry: reg}, fl.Run)
		},
	}
	f := cmd.Flags()
	pf.register(f)
	f.BoolVar(&cfg.Replay.Topic, "topic", false, "read the requests topic instead of files (with --since/--until)")
	f.StringVar(&chInput, "clickhouse", "", "read ClickHouse's requests table instead of files (with --since/--until), and with --feedback its feedback table: host:port (the rest from BULWARK_CLICKHOUSE_*) or clickhouse://user:password@host:port/database")
	f.StringVar(&since, "since", "", "only events at or after this time (RFC 3339)")
	f.StringVar(&until, "until", "", "only events before this time (RFC 3339)")
	f.StringVar(&cfg.Replay.Rules, "rules", "", "rule file whose features and rule scores the samples carry (default: the shipped one)")
	f.StringVar(&cfg.Replay.Signatures, "signatures", "", "request-signature file read over the shipped signatures")
	f.DurationVar(&cfg.Replay.AllowedLateness, "allowed-lateness", aggregator.DefaultAllowedLateness, "events this much older than the newest one are still merged")
	f.StringVar(&labels, "labels", "", "labels file: the JSON of 'bulwark simulate --labels' (client IP or session:ID -> {label, kind}), or SUBJECT LABEL lines (bare ids are session ids; human, bot, verified_crawler, NAME_bot)")
	f.StringVarP(&out, "output", "o", "", "where to write the model file (required)")
	f.StringVar(&evaluate, "evaluate", "", "train nothing: score this model file on every sample of the input, next to the rules (a held-out test on another day, site or seed)")
	f.StringVar(&promote, "promote", "", "the model file in force (what the aggregator reads): replace it with the new model only if it is no worse on precision and recall on the held-out samples; keep a refused one as <name>.refused-<id>.json")
	f.StringVar(&metricsFile, "metrics-file", "", "with --promote: write the promotion's precision, recall and outcome here in the Prometheus text format (for node_exporter's textfile collector)")
	f.BoolVar(&fromFeedback, "feedback", false, "also label from the feedback topic: passed challenges -> human, failed ones with a failed check and operator labels -> bot (capped per network and hour)")
	f.Float64Var(&cfg.TestShare, "test-share", 0.3, "share of the samples, the latest, held out for the evaluation (0: train on all)")
	f.Float64Var(&threshold, "threshold", 0.7, "probability at which the model flags (default: the rule file's challenge level / 100)")
	f.IntVar(&cfg.Params.Trees, "trees", cfg.Params.Trees, "number of trees")
	f.IntVar(&cfg.Params.MaxDepth, "depth", cfg.Params.MaxDepth, "depth of each tree")
	f.Float64Var(&cfg.Params.LearningRate, "learning-rate", cfg.Params.LearningRate, "shrinkage of each tree's output")
	f.Float64Var(&cfg.Params.HumanWeight, "human-weight", cfg.Params.HumanWeight, "weight of a person's samples relative to a bot's (higher: fewer people flagged, some bots later)")
	f.Uint32Var(&cfg.SampleEvery, "sample-every", training.DefaultSampleEvery, "after its first scores, sample a subject every this many scores (and at powers of two)")
	f.BoolVar(&follow, "follow", false, "keep running: retrain and promote (--promote) on a schedule (--every) or after --after-labels new labels on the feedback topic; implies --feedback; serves /metrics on --metrics-addr; stops on SIGINT/SIGTERM")
	f.DurationVar(&every, "every", 0, "with --follow: retrain this often (e.g. 6h; 0: only after --after-labels)")
	f.IntVar(&afterLabels, "after-labels", 0, "with --follow: retrain after this many new labels on the feedback topic (operator labels, passed challenges, failed ones with a failed check; 0: only on --every)")
	f.DurationVar(&window, "window", 24*time.Hour, "with --follow --topic: each run trains on the requests of this last stretch of time")
	f.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:8492", "with --follow: serve /metrics, /healthz and /readyz here")
	f.IntVar(&cfg.Params.PerSubject, "per-subject", cfg.Params.PerSubject, "most samples one subject weighs (caps what one client can teach)")
	registerAlgoFlags(f, &cfg.Params, mlp)
	f.StringVar(&cfg.Subjects, "subjects", "", "subjects the model learns and scores: ip, or session (the log's own session ids); default: session when every label names a session, else ip (with --feedback: ip)")
	f.StringVar(&cfg.Split, "split", training.SplitAuto, "how --test-share is held out: time (the latest samples), session (whole subjects, stratified by kind, seeded by --seed), or auto (time, unless that leaves only bots or only people on one side)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the session split, of --folds and of the MLP's initial weights and batch order (same seed and input: same model)")
	f.IntVar(&cfg.Folds, "folds", 0, "also cross-validate with this many folds grouped by subject (no subject on both sides) and print the per-subject figures")
	return cmd
}

func writeTrainReport(w io.Writer, res *training.Result, took time.Duration, rulesFile string) {
	f := res.File
	pos := 100 * float64(f.Data.Positives) / float64(max(f.Data.Samples, 1))
	fmt.Fprintf(w, "trained %s in %s: %d lines, %d samples of %d subjects (%.1f%% bot samples); %s\n",
		f.ID, took.Round(100*time.Millisecond), res.Replay.Lines, f.Data.Samples, f.Data.Subjects, pos, describeModel(f))
	e := f.Evaluation
	if e == nil {
		fmt.Fprintln(w, "no held-out evaluation (--test-share 0): every sample was trained on")
		if res.CV != nil {
			writeCrossValidation(w, res.CV, rulesFile)
		}
		return
	}
	switch res.Split {
	case training.SplitSession:
		fmt.Fprintf(w, "split session: trained on %d samples, tested on the %d samples of the held-out subjects (seed %d)\n", res.Train, res.Test, res.Seed)
	default:
		fmt.Fprintf(w, "split time: trained on %d samples before %s, tested on the %d after\n", res.Train, f.Data.TrainUntil.Format(time.RFC3339), res.Test)
	}
	if res.SplitNote != "" {
		fmt.Fprintf(w, "(split auto: %s)\n", res.SplitNote)
	}
	fmt.Fprintf(w, "the model scores %s subjects\n\n", strings.Join(f.SubjectKinds(), ", "))
	writeEvaluation(w, f, rulesFile)
	if res.CV != nil {
		writeCrossValidation(w, res.CV, rulesFile)
	}
}

// writeEvaluation prints f's held-out figures next to the rules', and per kind.
func writeEvaluation(w io.Writer, f *model.File, rulesFile string) {
	e := f.Evaluation
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "test set\tdetector\tflags at\tprecision\trecall\tFP rate\tROC-AUC\tTP\tFP\tFN\tTN\t")
	row := func(set, det string, at string, x model.Figures) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f\t%.4f\t%.4f%%\t%.4f\t%d\t%d\t%d\t%d\t\n", set, det, at, x.Precision, x.Recall, 100*x.FPR, x.AUC, x.TP, x.FP, x.FN, x.TN)
	}
	mAt := fmt.Sprintf("p >= %.2f", f.Threshold)
	rAt := fmt.Sprintf("score >= %.0f", e.Rules.Threshold*100)
	row("samples", "model", mAt, e.Model)
	row("samples", "rules "+rulesName(rulesFile), rAt, e.Rules)
	row("subjects", "model", mAt, e.SubjectsModel)
	row("subjects", "rules "+rulesName(rulesFile), rAt, e.SubjectsRules)
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind (test subjects)\tlabel\tsubjects\tmodel flagged\trules flagged\t")
	for _, k := range e.Kinds {
		lbl := "human"
		if k.Bot {
			lbl = "bot"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t\n", k.Kind, lbl, k.Subjects, k.ModelFlagged, k.RulesFlagged)
	}
	tw.Flush()
}

// writeCrossValidation prints a grouped cross-validation's subject figures.
func writeCrossValidation(w io.Writer, cv *training.CrossValidation, rulesFile string) {
	fmt.Fprintf(w, "\ncross-validation: %d folds grouped by subject (seed %d); every subject tested once, by a model that never saw it\n\n", cv.Folds, cv.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "subjects\tdetector\tprecision\trecall\tFP rate\tTP\tFP\tFN\tTN\t")
	for _, r := range []struct {
		det string
		x   model.Figures
	}{{"model", cv.SubjectsModel}, {"rules " + rulesName(rulesFile), cv.SubjectsRules}} {
		fmt.Fprintf(tw, "all\t%s\t%.4f\t%.4f\t%.4f%%\t%d\t%d\t%d\t%d\t\n", r.det, r.x.Precision, r.x.Recall, 100*r.x.FPR, r.x.TP, r.x.FP, r.x.FN, r.x.TN)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind (all folds)\tlabel\tsubjects\tmodel flagged\trules flagged\t")
	for _, k := range cv.Kinds {
		lbl := "human"
		if k.Bot {
			lbl = "bot"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t\n", k.Kind, lbl, k.Subjects, k.ModelFlagged, k.RulesFlagged)
	}
	tw.Flush()
}

// writePromotion prints a promotion's outcome, with both models' figures.
func writePromotion(w io.Writer, id, path string, d *training.Decision) {
	cur := "none"
	if d.Current != nil {
		cur = fmt.Sprintf("precision %.4f recall %.4f", d.Current.Precision, d.Current.Recall)
	}
	if d.Promoted {
		fmt.Fprintf(w, "\npromoted %s to %s: %s (candidate precision %.4f recall %.4f; in force before: %s)\n", id, path, d.Reason, d.Candidate.Precision, d.Candidate.Recall, cur)
		return
	}
	fmt.Fprintf(w, "\nrefused %s: %s (candidate precision %.4f recall %.4f; in force: %s); kept as %s\n", id, d.Reason, d.Candidate.Precision, d.Candidate.Recall, cur, d.Kept)
}
