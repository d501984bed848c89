package chsink

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/platform/backoff"
)

// metricSample is one row of pipeline_metrics.
type metricSample struct {
	source, name, labels string
	value                float64
}

// recordStats samples the pipeline every StatsInterval into
// pipeline_metrics: the lag of the configured consumer groups, and the
// bulwark_* counters and gauges of the services at ScrapeURLs (the sidecar's
// lookups, the shipper's lines, ...), which the pipeline-health dashboard shows.
func (s *Sink) recordStats(ctx context.Context, cl *kgo.Client, conn driver.Conn) {
	adm := kadm.NewClient(cl)
	hc := &http.Client{Timeout: 5 * time.Second}
	t := time.NewTicker(s.cfg.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var samples []metricSample
		lag, err := s.lagSamples(ctx, adm)
		if err != nil {
			s.m.statsErrors.Inc()
			s.log.Debug("consumer lag", "err", err)
		}
		samples = append(samples, lag...)
		for _, u := range s.cfg.ScrapeURLs {
			got, err := scrape(ctx, hc, u)
			if err != nil {
				s.m.statsErrors.Inc()
				s.log.Debug("scrape", "url", u, "err", err)
				continue
			}
			samples = append(samples, got...)
		}
		if err := writeSamples(ctx, conn, s.cfg.ClickHouse.Database, time.Now(), samples); err != nil {
			s.m.statsErrors.Inc()
			s.log.Debug("write pipeline metrics", "err", err)
		}
	}
}

func (s *Sink) lagSamples(ctx context.Context, adm *kadm.Client) ([]metricSample, error) {
	if len(s.cfg.LagGroups) == 0 {
		return nil, nil
	}
	lags, err := adm.Lag(ctx, s.cfg.LagGroups...)
	if err != nil {
		return nil, err
	}
	var out []metricSample
	for _, g := range lags.Sorted() {
		if g.Error() != nil {
			continue
		}
		for topic, ps := range g.Lag {
			var sum int64
			for _, p := range ps {
				if p.Lag > 0 {
					sum += p.Lag
				}
			}
			out = append(out, metricSample{source: g.Group, name: "consumer_lag", labels: "topic=" + topic, value: float64(sum)})
		}
	}
	return out, nil
}

// scrape reads a Prometheus text endpoint and keeps the bulwark_* counters
// and gauges (histograms as their _count), labelled with the target's host.
func scrape(ctx context.Context, hc *http.Client, target string) ([]metricSample, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", target, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", target, err)
	}
	var out []metricSample
	for name, f := range fams {
		if !strings.HasPrefix(name, "bulwark_") {
			continue
		}
		for _, m := range f.GetMetric() {
			var v float64
			n := name
			switch {
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				v = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				v, n = float64(m.GetHistogram().GetSampleCount()), name+"_count"
			default:
				continue
			}
			out = append(out, metricSample{source: u.Host, name: n, labels: labelString(m.GetLabel()), value: v})
		}
	}
	return out, nil
}

func labelString(ls []*dto.LabelPair) string {
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func writeSamples(ctx context.Context, conn driver.Conn, db string, now time.Time, samples []metricSample) error {
	if len(samples) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".pipeline_metrics (time, source, name, labels, value)")
	if err != nil {
		return err
	}
	n := len(samples)
	tm, src, name, labels, val := make([]time.Time, n), make([]string, n), make([]string, n), make([]string, n), make([]float64, n)
	for i, s := range samples {
		tm[i], src[i], name[i], labels[i], val[i] = now.UTC(), s.source, s.name, s.labels, s.value
	}
	if err := appendColumns(b, tm, src, name, labels, val); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

// keepRetention drops expired day partitions every hour, on servers
// without TTL.
func (s *Sink) keepRetention(ctx context.Context, conn driver.Conn) {
	for {
		n, err := chschema.DropExpiredPartitions(ctx, conn, s.cfg.ClickHouse.Database, s.cfg.ClickHouse.RetentionDays, time.Now())
		if err != nil && ctx.Err() == nil {
			s.log.Warn("retention: dropping old partitions", "err", err)
		}
		if n > 0 {
			s.m.dropped.Add(float64(n))
			s.log.Info("retention: dropped old partitions", "count", n, "days", s.cfg.ClickHouse.RetentionDays)
		}
		if backoff.Sleep(ctx, time.Hour) != nil {
			return
		}
	}
}
