package challenge

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	issued    *prometheus.CounterVec
	answers   *prometheus.CounterVec
	refused   *prometheus.CounterVec
	solve     prometheus.Histogram
	abandoned prometheus.Counter
	untracked prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, source string, n *nonces) *metrics {
	cl := prometheus.Labels{"server": source}
	m := &metrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_challenge_issued_total", Help: "Challenge pages served, by level.", ConstLabels: cl,
		}, []string{"level"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_challenge_answers_total", Help: "Challenge answers scored, by result and the first failed check.", ConstLabels: cl,
		}, []string{"result", "check"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_challenge_refused_total", Help: "Challenge requests refused before scoring, by reason (token, expired, other_network, other_agent, replay, return, form, busy, provider_unavailable).", ConstLabels: cl,
		}, []string{"reason"}),
		solve: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bulwark_challenge_solve_seconds", Help: "From the page being served to its answer arriving.", ConstLabels: cl,
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300},
		}),
		abandoned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bulwark_challenge_abandoned_total", Help: "Challenges never answered before their token expired.", ConstLabels: cl,
		}),
		untracked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bulwark_challenge_untracked_total", Help: "Challenges issued while the table of open challenges was full (their abandonment goes unreported).", ConstLabels: cl,
		}),
	}
	if reg != nil {
		reg.MustRegister(m.issued, m.answers, m.refused, m.solve, m.abandoned, m.untracked,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "bulwark_challenge_open", Help: "Challenges issued and not yet answered or abandoned.", ConstLabels: cl,
			}, func() float64 { _, i := n.sizes(); return float64(i) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "bulwark_challenge_used_nonces", Help: "Answered nonces remembered to refuse replays.", ConstLabels: cl,
			}, func() float64 { u, _ := n.sizes(); return float64(u) }))
	}
	return m
}
