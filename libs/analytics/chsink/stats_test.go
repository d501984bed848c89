package chsink_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// TestPipelineMetrics: the sink records its consumer group's lag and the
// bulwark_* metrics of the services it scrapes into pipeline_metrics.
func TestPipelineMetrics(t *testing.T) {
	e := newEnv(t, "stats")
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `# HELP bulwark_sidecar_lookups_total Verdict lookups answered.
# TYPE bulwark_sidecar_lookups_total counter
bulwark_sidecar_lookups_total{api="authz",action="ALLOW"} 41
bulwark_sidecar_lookups_total{api="authz",action="BLOCK"} 1
# TYPE go_goroutines gauge
go_goroutines 12
# TYPE bulwark_sidecar_lookup_seconds histogram
bulwark_sidecar_lookup_seconds_bucket{le="+Inf"} 42
bulwark_sidecar_lookup_seconds_sum 0.01
bulwark_sidecar_lookup_seconds_count 42
`)
	}))
	defer metrics.Close()
	e.cfg.StatsInterval = 100 * time.Millisecond
	e.cfg.LagGroups = []string{e.cfg.Group}
	e.cfg.ScrapeURLs = []string{metrics.URL + "/metrics", "http://127.0.0.1:1/metrics"}
	e.produce(0, 100)
	e.start(nil)
	e.waitRows(100, 60*time.Second)
	f := func(q string) {
		t.Helper()
		testkit.Eventually(t, 60*time.Second, "rows for "+q, func() bool { return e.count(q) > 0 })
	}
	f("SELECT count() FROM stats.pipeline_metrics WHERE name = 'bulwark_sidecar_lookups_total' AND labels = 'action=BLOCK,api=authz' AND value = 1")
	f("SELECT count() FROM stats.pipeline_metrics WHERE name = 'bulwark_sidecar_lookup_seconds_count' AND value = 42")
	f("SELECT count() FROM stats.pipeline_metrics WHERE name = 'consumer_lag' AND source = 'chsink-stats' AND labels = 'topic=bulwark.requests.v1'")
	if n := e.count("SELECT count() FROM stats.pipeline_metrics WHERE name = 'go_goroutines'"); n != 0 {
		t.Errorf("kept %d non-bulwark samples", n)
	}
}
