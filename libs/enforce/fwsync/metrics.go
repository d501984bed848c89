package fwsync

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	desired, elements *prometheus.GaugeVec // family
	added, removed    prometheus.Counter
	replaces, errors  prometheus.Counter
	duration          prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		desired:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bulwark_fwsync_desired_elements", Help: "Networks the sets should hold (active verdicts, overlaps removed)."}, []string{"family"}),
		elements: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bulwark_fwsync_set_elements", Help: "Networks installed in the sets, as of the last transaction."}, []string{"family"}),
		added:    prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_fwsync_elements_added_total", Help: "Set elements added by incremental transactions."}),
		removed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_fwsync_elements_removed_total", Help: "Set elements deleted by incremental transactions."}),
		replaces: prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_fwsync_table_writes_total", Help: "Atomic rewrites of the whole table (start, after an error, periodic)."}),
		errors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_fwsync_errors_total", Help: "Failed netlink transactions."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bulwark_fwsync_sync_duration_seconds", Help: "Time a netlink transaction took.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.desired, m.elements, m.added, m.removed, m.replaces, m.errors, m.duration)
	}
	return m
}
