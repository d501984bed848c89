package aggregator

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	events, late, bad, scores, expired prometheus.Counter
	sigMatches, malformed              prometheus.Counter
	decodeErrors                       prometheus.Counter
	active                             *prometheus.GaugeVec
	stateBytes, watermarkLag, parts    prometheus.Gauge
	rebalances                         *prometheus.CounterVec
	txns                               *prometheus.CounterVec
	stateRecords, restores, staleState prometheus.Counter
	incompatible, fetchErrors, future  prometheus.Counter
	restoreSeconds                     prometheus.Histogram
	restoring, paused                  prometheus.Gauge
	handover                           prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	ns, sub := "bulwark", "aggregator"
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	m := &metrics{
		events:       c("events_total", "Request events merged into windowed state."),
		late:         c("late_events_total", "Events later than the allowed lateness, dropped (not merged into closed windows)."),
		bad:          c("bad_events_total", "Events without a usable client IP or time, dropped."),
		decodeErrors: c("decode_errors_total", "Records of the requests topic that are not a RequestEvent, skipped."),
		scores:       c("scores_total", "Scores emitted (on change)."),
		expired:      c("expired_subjects_total", "Subject states dropped after their idle timeout."),
		sigMatches:   c("signature_matches_total", "Events that matched a request signature (auth endpoints aside)."),
		malformed:    c("malformed_events_total", "Events whose request was malformed (bad bytes, a request line that is not HTTP), scored."),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "active_subjects",
			Help: "Subjects with state, by kind (ip, session, net, hot = at MONITOR or above)."}, []string{"kind"}),
		stateBytes:   g("state_bytes", "Bytes held by subject states of the assigned partitions."),
		watermarkLag: g("watermark_lag_seconds", "Wall clock minus the oldest partition watermark (newest event time) of the assigned partitions."),
		parts:        g("assigned_partitions", "Partitions of the requests topic this instance owns."),
		rebalances: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rebalances_total",
			Help: "Partition assignment changes, by event (assigned, revoked, lost)."}, []string{"event"}),
		txns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "transactions_total",
			Help: "Transactions (scores + state + offsets), by result (committed, aborted)."}, []string{"result"}),
		stateRecords:   c("state_records_total", "State records written to the state topic."),
		restores:       c("restores_total", "Partition states loaded from the state topic."),
		staleState:     c("stale_state_total", "Restores whose state did not reach the committed offset in time (processing continued with it)."),
		incompatible:   c("incompatible_state_records_total", "State records that could not be read (malformed), ignored."),
		fetchErrors:    c("fetch_errors_total", "Errors fetching from the requests topic."),
		future:         c("future_events_total", "Events timed more than an hour ahead of this machine's clock, dropped."),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "restore_seconds", Help: "Time to load a partition's state.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 8)}),
		restoring:      g("restoring_partitions", "Partitions whose state is being loaded (their scoring waits for it)."),
		paused:         g("paused_partitions", "Assigned partitions not yet scoring: fetching paused until their state is loaded."),
		handover: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "handover_seconds",
			Help: "On a planned stop: from the stop signal until the last transaction is committed and the partitions are given up.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.late, m.bad, m.decodeErrors, m.scores, m.expired, m.sigMatches, m.malformed, m.active, m.stateBytes,
			m.watermarkLag, m.parts, m.rebalances, m.txns, m.stateRecords, m.restores, m.staleState,
			m.incompatible, m.fetchErrors, m.future, m.restoreSeconds, m.restoring, m.paused, m.handover)
	}
	return m
}
