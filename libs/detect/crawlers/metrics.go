package crawlers

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the verifier's counters. They are built once per process and
// shared by the verifiers a rule reload creates.
type Metrics struct {
	checks   *prometheus.CounterVec
	lookups  *prometheus.CounterVec
	skipped  prometheus.Counter
	refreshs *prometheus.CounterVec
}

// NewMetrics registers the verifier metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_crawler_checks_total",
			Help: "Bot claims checked, by bot and result (verified, impostor, unverifiable)."}, []string{"crawler", "result"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_crawler_rdns_lookups_total",
			Help: "Forward-confirmed reverse DNS lookups, by result (verified, impostor, error)."}, []string{"result"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_crawler_rdns_skipped_total",
			Help: "Reverse DNS lookups not started because the maximum were already running."}),
		refreshs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_crawler_ranges_refresh_total",
			Help: "Refreshes of published crawler ranges, by crawler and result (ok, failed)."}, []string{"crawler", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.checks, m.lookups, m.skipped, m.refreshs)
	}
	return m
}

func (m *Metrics) check(name string, st Status) {
	if m != nil {
		m.checks.WithLabelValues(name, st.String()).Inc()
	}
}

func (m *Metrics) lookup(result string) {
	if m != nil {
		m.lookups.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) lookupSkipped() {
	if m != nil {
		m.skipped.Inc()
	}
}

func (m *Metrics) refresh(name string, ok bool) {
	if m != nil {
		r := "ok"
		if !ok {
			r = "failed"
		}
		m.refreshs.WithLabelValues(name, r).Inc()
	}
}
