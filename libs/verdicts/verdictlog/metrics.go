package verdictlog

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	records, tombstones, badRecords, badSubjects, fetchErrors prometheus.Counter
	lag, lastRecord, catchUp                                  prometheus.Gauge
}

func newMetrics(name string, reg prometheus.Registerer) *metrics {
	l := prometheus.Labels{"reader": name}
	m := &metrics{
		records:     prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_verdictlog_records_total", Help: "Verdict topic records applied, tombstones included.", ConstLabels: l}),
		tombstones:  prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_verdictlog_tombstones_total", Help: "Tombstones (lifted verdicts) applied.", ConstLabels: l}),
		badRecords:  prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_verdictlog_bad_records_total", Help: "Records skipped: no key or undecodable value.", ConstLabels: l}),
		badSubjects: prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_verdictlog_bad_subjects_total", Help: "Records skipped: the key is not a subject (libs/platform/subject refuses it).", ConstLabels: l}),
		fetchErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_verdictlog_fetch_errors_total", Help: "Errors fetching the verdict topic.", ConstLabels: l}),
		lag:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulwark_verdictlog_lag_records", Help: "Records behind the verdict topic's high watermarks.", ConstLabels: l}),
		lastRecord:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulwark_verdictlog_last_record_timestamp_seconds", Help: "Timestamp of the last verdict record applied.", ConstLabels: l}),
		catchUp:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulwark_verdictlog_catch_up_seconds", Help: "How long catching up with the verdict topic took at start.", ConstLabels: l}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.tombstones, m.badRecords, m.badSubjects, m.fetchErrors, m.lag, m.lastRecord, m.catchUp)
	}
	return m
}
