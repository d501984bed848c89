package console

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	denied  *prometheus.CounterVec
	actions *prometheus.CounterVec
	logins  *prometheus.CounterVec
	audit   *prometheus.CounterVec
	lookups prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_console_denied_total",
			Help: "Console requests refused, by reason (unauthenticated, csrf, role).",
		}, []string{"reason"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_console_actions_total",
			Help: "Operator actions taken in the console, by action and result (ok, refused, failed).",
		}, []string{"action", "result"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_console_logins_total",
			Help: "Console logins, by method (token, oidc) and result (ok, refused).",
		}, []string{"method", "result"}),
		audit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_console_audit_records_total",
			Help: "Audit records written to the audit topic, by result (ok, failed: logged in full at error level).",
		}, []string{"result"}),
		lookups: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bulwark_console_client_view_seconds",
			Help:    "Time to build a client page, ClickHouse queries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.denied, m.actions, m.logins, m.audit, m.lookups)
	}
	return m
}
