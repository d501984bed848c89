package testkit

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is a Gatherer over a running program's /metrics page, so a test
// that starts a real binary reads its metrics with Metric like a test that
// holds the registry. Each Gather fetches the page once (text format).
func Scrape(url string) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, fmt.Errorf("scrape %s: %w", url, err)
		}
		req.Header.Set("Accept", "text/plain; version=0.0.4")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("scrape %s: %w", url, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("scrape %s: status %s", url, resp.Status)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		byName, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("scrape %s: parse: %w", url, err)
		}
		out := make([]*dto.MetricFamily, 0, len(byName))
		for _, mf := range byName {
			out = append(out, mf)
		}
		return out, nil
	})
}

// Snapshot gathers g once and returns a Gatherer of that result: several
// Metric calls then read one consistent scrape, and a test polling a program
// that is not up yet gets the error instead of a failed test.
func Snapshot(g prometheus.Gatherer) (prometheus.Gatherer, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, err
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, nil }), nil
}
