package signatures

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const extraSig = `version: 1
signatures:
  - id: shop-secret
    category: sensitive_file
    severity: high
    reference: our incident 42
    fields: [target]
    literals: ["/internal-prices"]
    match: ["/internal-prices.csv"]
`

// A changed file is in force within a second; a broken one is refused and
// the set in force stays.
func TestReloader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sigs.yaml")
	if err := os.WriteFile(path, []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	first, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHolder(first)
	reg := prometheus.NewRegistry()
	r := NewReloader(path, h, 50*time.Millisecond, nil, reg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)

	wrote := time.Now()
	if err := os.WriteFile(path, []byte(extraSig), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the changed file in force", func() bool { return h.Load() != first })
	took := time.Since(wrote)
	t.Logf("reload in force after %v", took)
	if took > time.Second {
		t.Fatalf("reload took %v, want < 1s", took)
	}
	m := h.Load().NewMatcher()
	if len(m.Match(Request{Method: "GET", Path: "/internal-prices.csv"})) != 1 {
		t.Fatal("new signature not in force")
	}

	good := h.Load()
	if err := os.WriteFile(path, []byte("version: 1\nsignatures: [{id: BAD}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the broken file refused", func() bool {
		return testutil.ToFloat64(r.reloads.WithLabelValues("failed")) >= 1
	})
	if h.Load() != good {
		t.Fatal("a broken file replaced the set in force")
	}
}
