package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema/chtest"
)

func TestMigrateCommand(t *testing.T) {
	out, err := runCLI(t, "migrate", "--print", "18.16")
	if err != nil || !strings.Contains(out, "CREATE TABLE IF NOT EXISTS bulwark.requests") || strings.Contains(out, "LowCardinality(") {
		t.Fatalf("--print 18.16: err %v\n%s", err, out)
	}
	if _, err := runCLI(t, "migrate", "--print", "17.0"); err == nil {
		t.Fatal("--print 17.0 accepted")
	}
	if testing.Short() {
		t.Skip("-short: no clickhouse-server")
	}
	srv := chtest.StartT(t)
	t.Setenv("BULWARK_CLICKHOUSE_DATABASE", "cli")
	out, err = runCLI(t, "migrate", "--clickhouse", srv.Addr)
	if err != nil || !strings.Contains(out, "applied migrations") {
		t.Fatalf("first migrate: err %v, out %q", err, out)
	}
	out, err = runCLI(t, "migrate", "--clickhouse", srv.Addr)
	if err != nil || !strings.Contains(out, "is current") {
		t.Fatalf("second migrate: err %v, out %q", err, out)
	}
}

func TestGrafanaProvisionCommand(t *testing.T) {
	var calls []string
	grafana := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, r.Method+" "+r.URL.Path)
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"Unauthorized"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"not found"}`))
		case r.URL.Path == "/api/dashboards/db":
			_, _ = w.Write([]byte(`{"id":1,"uid":"x","url":"/d/x","status":"success","version":1,"slug":"x"}`))
		default:
			_, _ = w.Write([]byte(`{"id":1,"message":"ok"}`))
		}
	}))
	defer grafana.Close()
	t.Setenv("BULWARK_GRAFANA_TOKEN", "tok")
	out, err := runCLI(t, "grafana", "provision", "--url", grafana.URL, "--clickhouse", "clickhouse:9000", "--dashboards", "../../dashboards")
	if err != nil || !strings.Contains(out, "datasource created; 6 dashboards imported") {
		t.Fatalf("err %v, out %q, calls %v", err, out, calls)
	}
	if _, err := runCLI(t, "grafana", "provision", "--clickhouse", "clickhouse:9000"); err == nil {
		t.Fatal("no --url accepted")
	}
}
