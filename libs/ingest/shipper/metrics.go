package shipper

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	linesRead, linesShipped, bytesRead *prometheus.CounterVec
	linesRejected                      *prometheus.CounterVec // file, reason
	duplicatesSkipped                  *prometheus.CounterVec
	rotations                          *prometheus.CounterVec // file, kind
	rotationsLost                      *prometheus.CounterVec // file, kind
	lagBytes                           *prometheus.GaugeVec
	produceLatency                     prometheus.Histogram
	produceErrors                      prometheus.Counter
	bufferedRecords                    prometheus.GaugeFunc
	checkpointErrors                   prometheus.Counter
	logpushRequests                    *prometheus.CounterVec // code
}

func newMetrics(reg prometheus.Registerer, buffered func() float64) *metrics {
	m := &metrics{
		linesRead:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_shipper_lines_read_total", Help: "Lines read from each source."}, []string{"source"}),
		linesShipped:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_shipper_lines_shipped_total", Help: "Parsed lines acknowledged by Kafka on the requests topic."}, []string{"source"}),
		bytesRead:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_shipper_bytes_read_total", Help: "Bytes of log lines read, newlines included."}, []string{"source"}),
		linesRejected:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_shipper_lines_rejected_total", Help: "Lines sent to the dead-letter topic, by reason."}, []string{"source", "reason"}),
		duplicatesSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_shipper_duplicates_skipped_total", Help: "Lines found already in Kafka after a restart and not sent again."}, []string{"source"}),
		rotations:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_shipper_rotations_total", Help: "File rotations followed, by kind."}, []string{"source", "kind"}),
		rotationsLost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_shipper_rotations_possibly_lost_total",
			Help: "Rotations after which the rest of the old file (the renamed file or copytruncate's copy) was not found: lines written to it after the last read may be lost."}, []string{"source", "kind"}),
		lagBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bulwark_shipper_lag_bytes", Help: "Bytes between the checkpointed position and the end of the file."}, []string{"source"}),
		produceLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bulwark_shipper_produce_latency_seconds", Help: "Time from handing a record to the Kafka client to its acknowledgement (one record in 64 of the requests topic, every dead letter).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		produceErrors:    prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_shipper_produce_errors_total", Help: "Records Kafka refused for good (sent to the dead-letter topic instead)."}),
		checkpointErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "bulwark_shipper_checkpoint_errors_total", Help: "Failed checkpoint writes."}),
		logpushRequests:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_shipper_logpush_requests_total", Help: "Logpush HTTP pushes by response code."}, []string{"code"}),
	}
	m.bufferedRecords = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bulwark_shipper_buffered_records", Help: "Records waiting in the Kafka client for acknowledgement."}, buffered)
	if reg != nil {
		reg.MustRegister(m.linesRead, m.linesShipped, m.bytesRead, m.linesRejected, m.duplicatesSkipped, m.rotations, m.rotationsLost,
			m.lagBytes, m.produceLatency, m.produceErrors, m.bufferedRecords, m.checkpointErrors, m.logpushRequests)
	}
	return m
}
