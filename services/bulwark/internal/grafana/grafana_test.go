package grafana_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/analytics/dashboards"
	"github.com/bulwarkhq/bulwark/services/bulwark/internal/grafana"
)

// fakeGrafana answers the endpoints of Grafana's HTTP API that provisioning
// uses, as documented at grafana.com/docs/grafana/latest/developers/http_api
// (data_source, folder, dashboard): paths, methods, status codes, required
// fields and response shapes, and keeps their state.
type fakeGrafana struct {
	t     *testing.T
	token string
	mu    sync.Mutex
	ds    map[string]map[string]any
	fold  map[string]map[string]any
	dash  map[string]map[string]any
	calls []string
}

func newFake(t *testing.T, token string) (*fakeGrafana, *httptest.Server) {
	f := &fakeGrafana{t: t, token: token, ds: map[string]map[string]any{}, fold: map[string]map[string]any{}, dash: map[string]map[string]any{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeGrafana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		writeJSON(w, 401, map[string]any{"message": "Unauthorized"})
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			writeJSON(w, 415, map[string]any{"message": "want application/json, got " + ct})
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, 400, map[string]any{"message": "bad json"})
			return
		}
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/api/datasources/uid/"):
		if ds, ok := f.ds[strings.TrimPrefix(p, "/api/datasources/uid/")]; ok {
			writeJSON(w, 200, ds)
			return
		}
		writeJSON(w, 404, map[string]any{"message": "Data source not found"})
	case r.Method == http.MethodPost && p == "/api/datasources":
		for _, k := range []string{"name", "type", "access"} {
			if s, _ := body[k].(string); s == "" {
				writeJSON(w, 400, map[string]any{"message": k + " is required"})
				return
			}
		}
		uid, _ := body["uid"].(string)
		if _, dup := f.ds[uid]; dup {
			writeJSON(w, 409, map[string]any{"message": "data source with the same uid already exists"})
			return
		}
		body["id"] = len(f.ds) + 1
		f.ds[uid] = body
		writeJSON(w, 200, map[string]any{"datasource": body, "id": body["id"], "message": "Datasource added", "name": body["name"]})
	case r.Method == http.MethodPut && strings.HasPrefix(p, "/api/datasources/uid/"):
		uid := strings.TrimPrefix(p, "/api/datasources/uid/")
		old, ok := f.ds[uid]
		if !ok {
			writeJSON(w, 404, map[string]any{"message": "Data source not found"})
			return
		}
		body["id"] = old["id"]
		f.ds[uid] = body
		writeJSON(w, 200, map[string]any{"datasource": body, "id": body["id"], "message": "Datasource updated", "name": body["name"]})
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/api/folders/"):
		if fo, ok := f.fold[strings.TrimPrefix(p, "/api/folders/")]; ok {
			writeJSON(w, 200, fo)
			return
		}
		writeJSON(w, 404, map[string]any{"message": "folder not found", "status": "not-found"})
	case r.Method == http.MethodPost && p == "/api/folders":
		uid, _ := body["uid"].(string)
		if t, _ := body["title"].(string); t == "" {
			writeJSON(w, 400, map[string]any{"message": "folder title cannot be empty"})
			return
		}
		if _, dup := f.fold[uid]; dup {
			writeJSON(w, 409, map[string]any{"message": "a folder with the same uid already exists"})
			return
		}
		body["id"] = len(f.fold) + 1
		f.fold[uid] = body
		writeJSON(w, 200, body)
	case r.Method == http.MethodPost && p == "/api/dashboards/db":
		d, _ := body["dashboard"].(map[string]any)
		uid, _ := d["uid"].(string)
		if d == nil || uid == "" {
			writeJSON(w, 400, map[string]any{"message": "Dashboard uid required"})
			return
		}
		if folder, _ := body["folderUid"].(string); folder != "" {
			if _, ok := f.fold[folder]; !ok {
				writeJSON(w, 400, map[string]any{"message": "folder not found"})
				return
			}
		}
		if _, exists := f.dash[uid]; exists && body["overwrite"] != true {
			writeJSON(w, 412, map[string]any{"message": "A dashboard with the same uid already exists", "status": "name-exists"})
			return
		}
		if d["id"] != nil {
			writeJSON(w, 404, map[string]any{"message": "Dashboard not found", "status": "not-found"})
			return
		}
		f.dash[uid] = body
		writeJSON(w, 200, map[string]any{"id": len(f.dash), "uid": uid, "url": "/d/" + uid, "status": "success", "version": 1, "slug": uid})
	default:
		writeJSON(w, 404, map[string]any{"message": "Not found"})
	}
}

func load(t *testing.T) []dashboards.Dashboard {
	t.Helper()
	ds, err := dashboards.LoadDir(filepath.Join("..", "..", "..", "..", "dashboards"))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestProvisionIsIdempotent(t *testing.T) {
	fake, srv := newFake(t, "s3cret")
	boards := load(t)
	ctx := context.Background()
	target := grafana.Target{URL: srv.URL, Token: "s3cret"}
	ds := grafana.Datasource{Addr: "clickhouse:9000", Database: "bulwark", User: "default", Password: "pw"}

	first, err := grafana.Provision(ctx, target, ds, grafana.Folder{}, boards)
	if err != nil {
		t.Fatal(err)
	}
	if !first.DatasourceCreated || !first.FolderCreated || len(first.Dashboards) != len(boards) {
		t.Fatalf("first run: %+v", first)
	}
	second, err := grafana.Provision(ctx, target, ds, grafana.Folder{}, boards)
	if err != nil {
		t.Fatal(err)
	}
	if second.DatasourceCreated || second.FolderCreated {
		t.Fatalf("second run created again: %+v", second)
	}
	if len(fake.ds) != 1 || len(fake.fold) != 1 || len(fake.dash) != len(boards) {
		t.Fatalf("grafana holds %d datasources, %d folders, %d dashboards", len(fake.ds), len(fake.fold), len(fake.dash))
	}
	got := fake.ds["bulwark-clickhouse"]
	if got["type"] != dashboards.PluginID || got["access"] != "proxy" {
		t.Errorf("datasource %v", got)
	}
	jd, _ := got["jsonData"].(map[string]any)
	if jd["host"] != "clickhouse" || jd["port"] != float64(9000) || jd["protocol"] != "native" || jd["defaultDatabase"] != "bulwark" {
		t.Errorf("jsonData %v", jd)
	}
	if sec, _ := got["secureJsonData"].(map[string]any); sec["password"] != "pw" {
		t.Errorf("secureJsonData %v", got["secureJsonData"])
	}
	want := []string{"GET /api/datasources/uid/bulwark-clickhouse", "POST /api/datasources", "GET /api/folders/bulwark", "POST /api/folders"}
	for i, w := range want {
		if fake.calls[i] != w {
			t.Errorf("call %d: %s, want %s", i, fake.calls[i], w)
		}
	}
	if !contains(fake.calls, "PUT /api/datasources/uid/bulwark-clickhouse") {
		t.Errorf("second run did not update the datasource: %v", fake.calls)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestProvisionAuth(t *testing.T) {
	_, srv := newFake(t, "right")
	ds := grafana.Datasource{Addr: "clickhouse:9000", Database: "bulwark"}
	_, err := grafana.Provision(context.Background(), grafana.Target{URL: srv.URL, Token: "wrong"}, ds, grafana.Folder{}, load(t))
	if !errors.Is(err, grafana.ErrAuth) {
		t.Fatalf("got %v, want ErrAuth", err)
	}
	_, err = grafana.Provision(context.Background(), grafana.Target{URL: srv.URL}, ds, grafana.Folder{}, load(t))
	if !errors.Is(err, grafana.ErrAuth) {
		t.Fatalf("no credentials: got %v, want ErrAuth", err)
	}
	_, err = grafana.Provision(context.Background(), grafana.Target{URL: "ftp://x", Token: "t"}, ds, grafana.Folder{}, load(t))
	if err == nil {
		t.Fatal("bad url accepted")
	}
}

func TestBasicAuthHeader(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		got = u + ":" + p
		if !ok {
			got = "none"
		}
		writeJSON(w, 401, map[string]any{"message": "Unauthorized"})
	}))
	defer srv.Close()
	_, _ = grafana.Provision(context.Background(), grafana.Target{URL: srv.URL, User: "admin", Password: "pw"},
		grafana.Datasource{Addr: "ch:9000"}, grafana.Folder{}, nil)
	if got != "admin:pw" {
		t.Fatalf("basic auth %q", got)
	}
}
