package sidecar

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdictlog"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

// APIs label the lookup metrics.
const (
	apiAuthz    = "authz"
	apiVerdict  = "verdict"
	apiBatch    = "batch"
	apiExtAuthz = "ext_authz"
)

var apis = []string{apiAuthz, apiVerdict, apiBatch, apiExtAuthz}

type metrics struct {
	// lookups[api][action] is resolved once: the hot path only increments.
	lookups     map[string]*[eventpb.Action_BLOCK + 1]prometheus.Counter
	badRequests *prometheus.CounterVec
	unready     *prometheus.CounterVec
	snapshots   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, t *verdicttable.Table, r *verdictlog.Reader, failMode string) *metrics {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulwark_sidecar_lookups_total", Help: "Verdict lookups answered, by API and resulting action.",
	}, []string{"api", "action"})
	m := &metrics{
		lookups: map[string]*[eventpb.Action_BLOCK + 1]prometheus.Counter{},
		badRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_sidecar_bad_requests_total", Help: "Requests refused with 400 (or gRPC INVALID_ARGUMENT), by API and reason.",
		}, []string{"api", "reason"}),
		unready: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_sidecar_unready_answers_total", Help: "Answers given by the fail mode because the table had not caught up.",
			ConstLabels: prometheus.Labels{"fail_mode": failMode},
		}, []string{"api"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_sidecar_snapshots_total", Help: "Snapshot saves and loads, by operation and result.",
		}, []string{"op", "result"}),
	}
	for _, api := range apis {
		var cs [eventpb.Action_BLOCK + 1]prometheus.Counter
		for a := eventpb.Action_ALLOW; a <= eventpb.Action_BLOCK; a++ {
			cs[a] = lookups.WithLabelValues(api, verdict.ActionString(a))
		}
		cs[eventpb.Action_ACTION_UNSPECIFIED] = cs[eventpb.Action_ALLOW]
		m.lookups[api] = &cs
	}
	size := func(kind string, f func(verdicttable.Sizes) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bulwark_sidecar_table_verdicts", Help: "Verdicts held in the table, by subject kind.",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 { return float64(f(t.Sizes())) })
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(lookups, m.badRequests, m.unready, m.snapshots,
		size("ip", func(s verdicttable.Sizes) int { return s.IP }),
		size("net", func(s verdicttable.Sizes) int { return s.Net }),
		size("session", func(s verdicttable.Sizes) int { return s.Session }),
		size("fp", func(s verdicttable.Sizes) int { return s.FP }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bulwark_sidecar_ready", Help: "1 once the table has caught up with the verdict topic.",
		}, func() float64 {
			if r.CaughtUp() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bulwark_sidecar_consumer_lag_records", Help: "Verdict topic records not yet applied.",
		}, func() float64 { return float64(r.Lag()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bulwark_sidecar_last_record_age_seconds", Help: "Time since the timestamp of the last verdict record applied (NaN before the first).",
		}, func() float64 {
			at := r.LastRecordTime()
			if at.IsZero() {
				return math.NaN()
			}
			return time.Since(at).Seconds()
		}),
	)
	return m
}
