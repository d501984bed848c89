package cfsync

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	desired    *prometheus.GaugeVec   // list
	listSize   *prometheus.GaugeVec   // list
	added      *prometheus.CounterVec // list
	removed    *prometheus.CounterVec // list
	rewritten  *prometheus.CounterVec // list
	calls      *prometheus.CounterVec // method, endpoint, code
	errors     *prometheus.CounterVec // code
	operations *prometheus.CounterVec // status
	syncs      *prometheus.CounterVec // result
	duration   prometheus.Histogram
	overflow   prometheus.Gauge
	unlistable prometheus.Gauge
	backoff    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		desired:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bulwark_cfsync_desired_items", Help: "Items the list should hold (active verdicts, merged, within capacity)."}, []string{"list"}),
		listSize:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bulwark_cfsync_list_items", Help: "Items the list holds, as last read or written."}, []string{"list"}),
		added:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_cfsync_items_added_total", Help: "Items added to the list by completed bulk operations."}, []string{"list"}),
		removed:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_cfsync_items_removed_total", Help: "Items removed from the list by completed bulk operations."}, []string{"list"}),
		rewritten:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_cfsync_items_rewritten_total", Help: "Listed items written again because their expiry moved."}, []string{"list"}),
		calls:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_cfsync_api_requests_total", Help: "Cloudflare API requests by method, endpoint and HTTP status (0: no response)."}, []string{"method", "endpoint", "code"}),
		errors:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_cfsync_api_errors_total", Help: "Failed Cloudflare API requests by HTTP status (0: no response)."}, []string{"code"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_cfsync_bulk_operations_total", Help: "Bulk operations by final status (completed, failed, timeout)."}, []string{"status"}),
		syncs:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_cfsync_syncs_total", Help: "Syncs by result (ok, error)."}, []string{"result"}),
		duration:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bulwark_cfsync_sync_duration_seconds", Help: "Time a sync took, polling included.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		overflow:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulwark_cfsync_overflow_items", Help: "Items left out of the lists at the last sync because the capacity was reached."}),
		unlistable: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulwark_cfsync_unlistable_subjects", Help: "Active verdicts no IP list can hold (IPv4 networks shorter than /8, IPv6 shorter than /4)."}),
		backoff:    prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_cfsync_backoffs_total", Help: "Waits after a 429, a 5xx or a failed sync."}),
	}
	if reg != nil {
		reg.MustRegister(m.desired, m.listSize, m.added, m.removed, m.rewritten, m.calls, m.errors,
			m.operations, m.syncs, m.duration, m.overflow, m.unlistable, m.backoff)
	}
	return m
}
