package testkit_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"
)

// fakeTB records a failure instead of failing the real test, and stops the
// calling goroutine as testing.T.Fatalf does.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn with a fakeTB on its own goroutine and returns the failure
// message, "" when fn did not fail.
func run(t *testing.T, fn func(tb testing.TB)) string {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); fn(f) }()
	<-done
	return f.failed
}

func TestEventually(t *testing.T) {
	t.Run("true at once", func(t *testing.T) {
		calls := 0
		msg := run(t, func(tb testing.TB) {
			testkit.Eventually(tb, time.Second, "x", func() bool { calls++; return true })
		})
		if msg != "" || calls != 1 {
			t.Fatalf("failure %q after %d calls, want none after 1", msg, calls)
		}
	})
	t.Run("becomes true", func(t *testing.T) {
		var n atomic.Int32
		msg := run(t, func(tb testing.TB) {
			testkit.Eventually(tb, 10*time.Second, "x", func() bool { return n.Add(1) >= 5 })
		})
		if msg != "" || n.Load() != 5 {
			t.Fatalf("failure %q after %d calls, want none after 5", msg, n.Load())
		}
	})
	t.Run("never true", func(t *testing.T) {
		calls := 0
		start := time.Now()
		msg := run(t, func(tb testing.TB) {
			testkit.Eventually(tb, 30*time.Millisecond, "the moon to turn blue", func() bool { calls++; return false })
		})
		if !strings.Contains(msg, "the moon to turn blue") || !strings.Contains(msg, "30ms") {
			t.Fatalf("failure %q, want it to name what was awaited and for how long", msg)
		}
		if time.Since(start) < 30*time.Millisecond || calls < 2 {
			t.Fatalf("gave up after %v and %d calls, want at least 30ms and a last call at the deadline", time.Since(start), calls)
		}
	})
}

func TestMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	drops := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "drops_total", Help: "h"}, []string{"reason", "source"})
	queue := prometheus.NewGauge(prometheus.GaugeOpts{Name: "queue", Help: "h"})
	untyped := prometheus.NewUntypedFunc(prometheus.UntypedOpts{Name: "untyped", Help: "h"}, func() float64 { return 7 })
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "latency_seconds", Help: "h"}, []string{"op"})
	reg.MustRegister(drops, queue, untyped, lat)
	drops.WithLabelValues("full", "a").Add(2)
	drops.WithLabelValues("full", "b").Add(3)
	drops.WithLabelValues("bad", "a").Add(5)
	queue.Set(4)
	lat.WithLabelValues("get").Observe(0.1)
	lat.WithLabelValues("get").Observe(0.2)
	lat.WithLabelValues("put").Observe(0.3)

	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"drops_total", nil, 10},
		{"drops_total", []string{"reason", "full"}, 5},
		{"drops_total", []string{"reason", "full", "source", "b"}, 3},
		{"drops_total", []string{"reason", "none"}, 0},
		{"drops_total", []string{"nolabel", "x"}, 0},
		{"queue", nil, 4},
		{"untyped", nil, 7},
		{"absent_total", nil, 0},
	} {
		if got := testkit.Metric(t, reg, tc.name, tc.labels...); got != tc.want {
			t.Errorf("Metric(%s, %q) = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if got := testkit.HistogramCount(t, reg, "latency_seconds"); got != 3 {
		t.Errorf("HistogramCount(latency_seconds) = %d, want 3", got)
	}
	if got := testkit.HistogramCount(t, reg, "latency_seconds", "op", "get"); got != 2 {
		t.Errorf("HistogramCount(latency_seconds, op=get) = %d, want 2", got)
	}

	for _, tc := range []struct {
		what string
		fn   func(tb testing.TB)
		want string
	}{
		{"odd labels", func(tb testing.TB) { testkit.Metric(tb, reg, "drops_total", "reason") }, "name/value pairs"},
		{"histogram as value", func(tb testing.TB) { testkit.Metric(tb, reg, "latency_seconds") }, "HistogramCount"},
		{"counter as histogram", func(tb testing.TB) { testkit.HistogramCount(tb, reg, "drops_total") }, "use Metric"},
		{"gather error", func(tb testing.TB) { testkit.Metric(tb, failingGatherer{}, "x") }, "gather: boom"},
	} {
		if msg := run(t, tc.fn); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: failure %q, want it to contain %q", tc.what, msg, tc.want)
		}
	}
}

type failingGatherer struct{}

func (failingGatherer) Gather() ([]*dto.MetricFamily, error) { return nil, errors.New("boom") }

func TestScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lines_total", Help: "h"}, []string{"source"})
	reg.MustRegister(c)
	c.WithLabelValues("a").Add(3)
	c.WithLabelValues("b").Add(4)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	g := testkit.Scrape(srv.URL)
	if got := testkit.Metric(t, g, "lines_total"); got != 7 {
		t.Errorf("scraped lines_total = %v, want 7", got)
	}
	if got := testkit.Metric(t, g, "lines_total", "source", "b"); got != 4 {
		t.Errorf("scraped lines_total{source=b} = %v, want 4", got)
	}
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	if _, err := testkit.Scrape(missing.URL).Gather(); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("scrape of a 404 page: %v, want an error naming the status", err)
	}
	snap, err := testkit.Snapshot(g)
	if err != nil {
		t.Fatal(err)
	}
	c.WithLabelValues("a").Add(10)
	if got := testkit.Metric(t, snap, "lines_total"); got != 7 {
		t.Errorf("snapshot lines_total = %v after a later increment, want the 7 it held", got)
	}
	srv.Close()
	if _, err := testkit.Snapshot(g); err == nil || !strings.Contains(err.Error(), "scrape") {
		t.Fatalf("snapshot of a stopped server: %v, want an error saying so", err)
	}
	if _, err := g.Gather(); err == nil || !strings.Contains(err.Error(), "scrape") {
		t.Fatalf("scrape of a stopped server: %v, want an error saying so", err)
	}
}
