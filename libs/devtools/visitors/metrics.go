package visitors

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests   *prometheus.CounterVec
	challenges *prometheus.CounterVec
	dropped    prometheus.Counter
	shared     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_dev_visitor_requests_total",
			Help: "Simulated visitors' requests by label (human, bot, verified_crawler) and what the gate did (ok, challenged, challenged_api, blocked, error; after_pass_2xx... for the page after a pass).",
		}, []string{"label", "outcome"}),
		challenges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_dev_visitor_challenges_total",
			Help: "Challenge pages simulated visitors met, by label and what they did (passed, failed, gave_up).",
		}, []string{"label", "result"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bulwark_dev_visitor_dropped_total",
			Help: "Simulated requests not sent because MaxInFlight requests were open (the machine is behind the simulation).",
		}),
		shared: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bulwark_dev_visitor_shared_addresses_total",
			Help: "People who browse from the address of a bot the gate challenged (a shared NAT).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.challenges, m.dropped, m.shared)
	}
	return m
}
