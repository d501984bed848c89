package httpguard

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	conns        prometheus.Gauge
	refused      *prometheus.CounterVec
	acceptErrors prometheus.Counter
	panics       prometheus.Counter
	refusedConns prometheus.Counter
	buffered     prometheus.Gauge
	// memoryReturns counts the times freed memory was handed back to the OS.
	memoryReturns prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "bulwark", Subsystem: "http", Name: "open_connections",
			Help: "HTTP connections open.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "bulwark", Subsystem: "http", Name: "unframed_requests_total",
			Help: "Requests refused at the header by the guard, before the server parsed them, by reason (malformed, header_too_large, body_too_large, chunked, buffer_full); each closes its connection.",
		}, []string{"reason"}),
		acceptErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "bulwark", Subsystem: "http", Name: "accept_errors_total",
			Help: "Errors accepting a connection (retried).",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "bulwark", Subsystem: "http", Name: "handler_panics_total",
			Help: "Handler panics turned into 500 answers.",
		}),
		refusedConns: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "bulwark", Subsystem: "http", Name: "refused_connections_total",
			Help: "Connections answered 503 and closed because the connection limit was reached.",
		}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "bulwark", Subsystem: "http", Name: "buffered_body_bytes",
			Help: "Request body bytes reserved by requests being received (bounded by the buffered-bytes limit; refusals count as unframed_requests_total{reason=\"buffer_full\"}).",
		}),
		memoryReturns: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "bulwark", Subsystem: "http", Name: "memory_returns_total",
			Help: "Times the memory of released request bodies and closed connections was handed back to the OS (a forced GC each).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.conns, m.refused, m.acceptErrors, m.panics, m.refusedConns, m.buffered, m.memoryReturns)
	}
	return m
}
