package testkit

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metric returns the sum of the series of the counter, gauge or untyped
// metric name in g whose labels match the given name/value pairs (all series
// when none is given), and 0 when no series matches: a counter that was never
// incremented is often not exported at all. It fails tb when g cannot be
// gathered, when labels is not pairs, or when name is a histogram or summary.
//
// prometheus/testutil.ToFloat64 needs the collector itself and exactly one
// series; tests hold a registry and want "all drops for reason X", so this
// reads the gathered families instead.
func Metric(tb testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	tb.Helper()
	if len(labels)%2 != 0 {
		tb.Fatalf("testkit.Metric(%s): labels must be name/value pairs, got %q", name, labels)
	}
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatalf("testkit.Metric(%s): gather: %v", name, err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		sum := 0.0
		for _, m := range mf.GetMetric() {
			if !matches(m, labels) {
				continue
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				sum += m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				sum += m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				sum += m.GetUntyped().GetValue()
			default:
				tb.Fatalf("testkit.Metric(%s): a %s has no single value; use HistogramCount", name, mf.GetType())
			}
		}
		return sum
	}
	return 0
}

// HistogramCount returns the number of observations of the histogram or
// summary name in g whose labels match the given name/value pairs, summed over
// the matching series, and 0 when none matches.
func HistogramCount(tb testing.TB, g prometheus.Gatherer, name string, labels ...string) uint64 {
	tb.Helper()
	if len(labels)%2 != 0 {
		tb.Fatalf("testkit.HistogramCount(%s): labels must be name/value pairs, got %q", name, labels)
	}
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatalf("testkit.HistogramCount(%s): gather: %v", name, err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var n uint64
		for _, m := range mf.GetMetric() {
			if !matches(m, labels) {
				continue
			}
			switch mf.GetType() {
			case dto.MetricType_HISTOGRAM:
				n += m.GetHistogram().GetSampleCount()
			case dto.MetricType_SUMMARY:
				n += m.GetSummary().GetSampleCount()
			default:
				tb.Fatalf("testkit.HistogramCount(%s): a %s has no observations; use Metric", name, mf.GetType())
			}
		}
		return n
	}
	return 0
}

// matches reports whether m carries every name/value pair of labels.
func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] {
				found = lp.GetValue() == labels[i+1]
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
