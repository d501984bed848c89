package training

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// promotionGauges are a promotion's figures. The same series come from a
// one-shot run (WriteMetrics, for node_exporter's textfile collector) and
// from `bulwark train --follow` (its /metrics), so one dashboard reads both.
type promotionGauges struct {
	prec, rec    *prometheus.GaugeVec
	promoted, at prometheus.Gauge
}

func newPromotionGauges(reg prometheus.Registerer) *promotionGauges {
	g := &promotionGauges{
		prec: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "model_promotion", Name: "precision",
			Help: "Precision on the held-out samples of the last promotion, by model (candidate, in_force)."}, []string{"model"}),
		rec: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "model_promotion", Name: "recall",
			Help: "Recall on the held-out samples of the last promotion, by model (candidate, in_force)."}, []string{"model"}),
		promoted: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "model_promotion", Name: "promoted",
			Help: "1 when the last candidate was promoted, 0 when it was refused."}),
		at: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "model_promotion", Name: "timestamp_seconds",
			Help: "When the last promotion ran, Unix seconds."}),
	}
	reg.MustRegister(g.prec, g.rec, g.promoted, g.at)
	return g
}

func (g *promotionGauges) set(d *Decision, now time.Time) {
	g.prec.WithLabelValues("candidate").Set(d.Candidate.Precision)
	g.rec.WithLabelValues("candidate").Set(d.Candidate.Recall)
	if d.Current != nil {
		g.prec.WithLabelValues("in_force").Set(d.Current.Precision)
		g.rec.WithLabelValues("in_force").Set(d.Current.Recall)
	}
	g.promoted.Set(0)
	if d.Promoted {
		g.promoted.Set(1)
	}
	g.at.Set(float64(now.Unix()))
}

// WriteMetrics writes a promotion's figures to path in the Prometheus text
// format, for node_exporter's textfile collector: a promotion run from cron
// has no /metrics of its own. Series: bulwark_model_promotion_precision and
// _recall by model (candidate, in_force), bulwark_model_promotion_promoted
// (1 or 0) and bulwark_model_promotion_timestamp_seconds.
func WriteMetrics(path string, d *Decision, now time.Time) error {
	reg := prometheus.NewRegistry()
	newPromotionGauges(reg).set(d, now)
	return prometheus.WriteToTextfile(path, reg)
}
