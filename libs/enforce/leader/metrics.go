package leader

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	leading     prometheus.Gauge
	campaigning prometheus.Gauge
	transitions *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, lease string) *metrics {
	labels := prometheus.Labels{"lease": lease}
	m := &metrics{
		leading: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "bulwark", Subsystem: "leader", Name: "leading",
			Help: "1 while this process holds the lease and runs the guarded work.", ConstLabels: labels,
		}),
		campaigning: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "bulwark", Subsystem: "leader", Name: "campaigning",
			Help: "1 from the moment this process has read the lease (it leads or stands by, ready to take over) until it stops campaigning.", ConstLabels: labels,
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "bulwark", Subsystem: "leader", Name: "transitions_total",
			Help: "Leadership changes of this process: acquired, lost (renewal failed) or released (clean stop).", ConstLabels: labels,
		}, []string{"event"}),
	}
	for _, e := range []string{"acquired", "lost", "released"} {
		m.transitions.WithLabelValues(e)
	}
	if reg != nil {
		reg.MustRegister(m.leading, m.campaigning, m.transitions)
	}
	return m
}
