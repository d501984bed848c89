package gate

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests       *prometheus.CounterVec
	upstreamErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_gate_requests_total",
			Help: "Requests answered, by outcome (allow, monitor, cleared, challenged, challenged_api, blocked, challenge_endpoint, not_ready).",
		}, []string{"outcome"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_gate_upstream_errors_total", Help: "Proxied requests that failed, by reason (unreachable, client_gone).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.upstreamErrors)
	}
	return m
}
