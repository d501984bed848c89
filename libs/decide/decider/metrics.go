package decider

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
)

// Metrics are the decider's counters. Build them once per process with
// NewMetrics and pass them to New and NewService.
type Metrics struct {
	scores     prometheus.Counter
	badScores  *prometheus.CounterVec
	verdicts   *prometheus.CounterVec
	lifts      *prometheus.CounterVec
	expiries   *prometheus.CounterVec
	exempt     *prometheus.CounterVec
	suppressed *prometheus.CounterVec
	overrides  *prometheus.CounterVec

	overridesBounded prometheus.Counter
	ruleErrors       *prometheus.CounterVec
	bots             *prometheus.CounterVec
	robotsViolations *prometheus.CounterVec
	reloads          *prometheus.CounterVec
	rulesAt          prometheus.Gauge
	active           *prometheus.GaugeVec

	produceErrors prometheus.Counter
	commitErrors  prometheus.Counter
	latency       prometheus.Histogram
	echoes        prometheus.Counter
	feedback      *prometheus.CounterVec

	crawlers *crawlers.Metrics
}

// NewMetrics registers the decider's metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_decider_" + name, Help: help}, labels)
	}
	m := &Metrics{
		scores:     prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_decider_scores_total", Help: "Scores decided on."}),
		badScores:  cv("bad_scores_total", "Scores skipped as unusable, by reason (decode, subject, no_time).", "reason"),
		verdicts:   cv("verdicts_total", "Verdicts written, by written action, would-be action in learning mode, rule and why (new, upgrade, extend).", "action", "would_be", "rule", "why"),
		lifts:      cv("lifts_total", "Computed verdicts lifted early (tombstones) because the subject became exempt, by reason.", "reason"),
		expiries:   cv("expiries_total", "Verdicts expired by the decider's timers (tombstones), by origin.", "origin"),
		exempt:     cv("exempt_total", "Scores exempt from verdicts, by reason (allow_list, verified_crawler, or the ALLOW rule's name).", "reason"),
		suppressed: cv("suppressed_total", "Scores not turned into verdicts because an operator decided, by reason (override, unblock_grace).", "reason"),
		overrides:  cv("overrides_total", "Operator verdicts and unblocks seen on the verdict topic, by action (UNBLOCK for a tombstone).", "action"),
		overridesBounded: prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_decider_overrides_bounded_total",
			Help: "Operator verdicts read from the verdict topic without expiry or beyond BULWARK_OVERRIDE_MAX_TTL, held with the bounded expiry."}),
		ruleErrors: cv("rule_errors_total", "Rule expressions that failed at run time (counted as not matching), by rule.", "rule"),
		bots: cv("bot_scores_total", "Scores of clients claiming a bot of the directory, by bot, category, status (verified, impostor, unverifiable) and policy.",
			"bot", "category", "status", "policy"),
		robotsViolations: cv("robots_violations_total", "Scores whose request was a declared bot fetching a path the site's robots.txt forbids it, by bot.", "bot"),
		reloads:          cv("rule_reloads_total", "Rule file reloads, by result (ok, failed).", "result"),
		rulesAt: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulwark_decider_rules_loaded_timestamp_seconds",
			Help: "When the rules in force were loaded."}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bulwark_decider_active_verdicts",
			Help: "Verdicts the decider holds, by action and origin."}, []string{"action", "origin"}),
		produceErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_decider_produce_errors_total",
			Help: "Verdict writes that failed (the service stops; the scores are read again after restart)."}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_decider_commit_errors_total",
			Help: "Offset commits of the scores topic that failed."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bulwark_decider_score_to_verdict_seconds",
			Help:    "From a score's arrival on the scores topic to its verdict acknowledged on the verdict topic.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		echoes: prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_decider_own_records_seen_total",
			Help: "The decider's own verdict records read back from the verdict topic (ignored)."}),
		feedback: cv("feedback_total", "Feedback records applied, by effect (challenge_passed, label_human, failed, inhuman, issued, abandoned, stale, bad_subject).", "effect"),
		crawlers: crawlers.NewMetrics(reg),
	}
	if reg != nil {
		reg.MustRegister(m.scores, m.badScores, m.verdicts, m.lifts, m.expiries, m.exempt, m.suppressed,
			m.overrides, m.overridesBounded, m.ruleErrors, m.bots, m.robotsViolations, m.reloads, m.rulesAt, m.active, m.produceErrors, m.commitErrors, m.latency, m.echoes, m.feedback)
	}
	return m
}
