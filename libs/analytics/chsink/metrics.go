package chsink

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	records      *prometheus.CounterVec // by topic
	decodeErrors *prometheus.CounterVec // by topic
	rows         *prometheus.CounterVec // by table
	insertErrors *prometheus.CounterVec // by table
	insertTime   *prometheus.HistogramVec
	commitErrors prometheus.Counter
	buffered     prometheus.Gauge
	up           prometheus.Gauge
	paused       prometheus.Gauge
	dropped      prometheus.Counter
	statsErrors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "chsink",
			Name: "records_total", Help: "Kafka records read, by topic."}, []string{"topic"}),
		decodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "chsink",
			Name: "decode_errors_total", Help: "Records that were not valid Protobuf for their topic and were skipped, by topic."}, []string{"topic"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "chsink",
			Name: "rows_written_total", Help: "Rows acknowledged by ClickHouse, by table (re-sent rows included)."}, []string{"table"}),
		insertErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "chsink",
			Name: "insert_errors_total", Help: "Failed inserts (retried), by table."}, []string{"table"}),
		insertTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "bulwark", Subsystem: "chsink",
			Name: "insert_seconds", Help: "Time to send one batch to ClickHouse.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{"table"}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "chsink",
			Name: "commit_errors_total", Help: "Failed offset commits (the rows are re-read and deduplicated)."}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "chsink",
			Name: "buffered_rows", Help: "Rows held in memory, waiting for ClickHouse."}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "chsink",
			Name: "clickhouse_up", Help: "1 when the last insert succeeded."}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "chsink",
			Name: "fetch_paused", Help: "1 while fetching is paused because ClickHouse does not accept rows."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "chsink",
			Name: "partitions_dropped_total", Help: "Day partitions dropped for retention (servers without TTL)."}),
		statsErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "chsink",
			Name: "stats_errors_total", Help: "Failures recording pipeline metrics (lag, scrapes)."}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.decodeErrors, m.rows, m.insertErrors, m.insertTime, m.commitErrors,
			m.buffered, m.up, m.paused, m.dropped, m.statsErrors)
	}
	return m
}
