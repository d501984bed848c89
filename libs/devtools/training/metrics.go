package training

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WriteMetrics writes a promotion's figures to path in the Prometheus text
// format, for node_exporter's textfile collector: a promotion run from cron
// has no /metrics of its own. Series: bulwark_model_promotion_precision and
// _recall by model (candidate, in_force), bulwark_model_promotion_promoted
// (1 or 0) and bulwark_model_promotion_timestamp_seconds.
func WriteMetrics(path string, d *Decision, now time.Time) error {
	reg := prometheus.NewRegistry()
	prec := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "model_promotion", Name: "precision",
		Help: "Precision on the held-out samples of the last promotion, by model (candidate, in_force)."}, []string{"model"})
	rec := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "model_promotion", Name: "recall",
		Help: "Recall on the held-out samples of the last promotion, by model (candidate, in_force)."}, []string{"model"})
	promoted := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "model_promotion", Name: "promoted",
		Help: "1 when the last candidate was promoted, 0 when it was refused."})
	at := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "model_promotion", Name: "timestamp_seconds",
		Help: "When the last promotion ran, Unix seconds."})
	reg.MustRegister(prec, rec, promoted, at)
	prec.WithLabelValues("candidate").Set(d.Candidate.Precision)
	rec.WithLabelValues("candidate").Set(d.Candidate.Recall)
	if d.Current != nil {
		prec.WithLabelValues("in_force").Set(d.Current.Precision)
		rec.WithLabelValues("in_force").Set(d.Current.Recall)
	}
	if d.Promoted {
		promoted.Set(1)
	}
	at.Set(float64(now.Unix()))
	return prometheus.WriteToTextfile(path, reg)
}
