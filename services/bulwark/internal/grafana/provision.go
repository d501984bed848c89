// Package grafana provisions a Grafana for `bulwark grafana provision`: the
// ClickHouse datasource and Bulwark's dashboards, through Grafana's HTTP API
// (grafana-openapi-client-go), idempotently.
package grafana

import (
	"context"
	"errors"
	"fmt"
	"github.com/bulwarkhq/bulwark/libs/analytics/dashboards"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-openapi/runtime"
	"github.com/go-openapi/strfmt"
	goapi "github.com/grafana/grafana-openapi-client-go/client"
	"github.com/grafana/grafana-openapi-client-go/client/datasources"
	"github.com/grafana/grafana-openapi-client-go/client/folders"
	"github.com/grafana/grafana-openapi-client-go/models"
)

// Target is the Grafana to provision and how to authenticate: a service
// account token, or basic auth.
type Target struct {
	URL      string // e.g. http://grafana:3000 (a sub-path is kept)
	Token    string
	User     string
	Password string
	OrgID    int64 // 0: the user's current organisation
}

// Datasource is the ClickHouse datasource as Grafana should reach it.
type Datasource struct {
	UID      string // default "bulwark-clickhouse"
	Name     string // default "Bulwark ClickHouse"
	Addr     string // host:port of the native protocol
	Database string
	User     string
	Password string
	TLS      bool
}

// Folder holds the dashboards.
type Folder struct {
	UID   string // default "bulwark"
	Title string // default "Bulwark"
}

// Result says what Provision did.
type Result struct {
	DatasourceCreated bool
	FolderCreated     bool
	Dashboards        []string // uids imported
}

// ErrAuth means Grafana refused the credentials.
var ErrAuth = errors.New("grafana refused the credentials (set BULWARK_GRAFANA_TOKEN, or BULWARK_GRAFANA_USER and _PASSWORD)")

// Provision creates or updates the datasource, the folder and every
// dashboard (overwriting the ones with the same uid). Running it twice
// leaves Grafana as the first run did.
func Provision(ctx context.Context, t Target, ds Datasource, f Folder, boards []dashboards.Dashboard) (Result, error) {
	var res Result
	api, err := newClient(t)
	if err != nil {
		return res, err
	}
	withCtx := func(op *runtime.ClientOperation) { op.Context = ctx }
	if ds.UID == "" {
		ds.UID = "bulwark-clickhouse"
	}
	if ds.Name == "" {
		ds.Name = "Bulwark ClickHouse"
	}
	if f.UID == "" {
		f.UID = "bulwark"
	}
	if f.Title == "" {
		f.Title = "Bulwark"
	}

	jsonData, secure, err := datasourceSettings(ds)
	if err != nil {
		return res, err
	}
	_, err = api.Datasources.GetDataSourceByUID(ds.UID, withCtx)
	var notFound *datasources.GetDataSourceByUIDNotFound
	switch {
	case errors.As(err, &notFound):
		_, err = api.Datasources.AddDataSource(&models.AddDataSourceCommand{
			UID: ds.UID, Name: ds.Name, Type: dashboards.PluginID, Access: "proxy",
			JSONData: jsonData, SecureJSONData: secure,
		}, withCtx)
		if err != nil {
			return res, apiErr("create datasource "+ds.UID, err)
		}
		res.DatasourceCreated = true
	case err != nil:
		return res, apiErr("look up datasource "+ds.UID, err)
	default:
		_, err = api.Datasources.UpdateDataSourceByUID(ds.UID, &models.UpdateDataSourceCommand{
			UID: ds.UID, Name: ds.Name, Type: dashboards.PluginID, Access: "proxy",
			JSONData: jsonData, SecureJSONData: secure,
		}, withCtx)
		if err != nil {
			return res, apiErr("update datasource "+ds.UID, err)
		}
	}

	_, err = api.Folders.GetFolderByUID(f.UID, withCtx)
	var folderNotFound *folders.GetFolderByUIDNotFound
	switch {
	case errors.As(err, &folderNotFound):
		if _, err := api.Folders.CreateFolder(&models.CreateFolderCommand{UID: f.UID, Title: f.Title}, withCtx); err != nil {
			return res, apiErr("create folder "+f.UID, err)
		}
		res.FolderCreated = true
	case err != nil:
		return res, apiErr("look up folder "+f.UID, err)
	}

	for _, d := range boards {
		model := make(map[string]any, len(d.Model))
		for k, v := range d.Model {
			model[k] = v
		}
		// Grafana matches an existing dashboard by uid when id is null, so
		// overwrite updates it in place instead of creating a copy.
		model["id"] = nil
		_, err := api.Dashboards.PostDashboard(&models.SaveDashboardCommand{
			Dashboard: model, FolderUID: f.UID, Overwrite: true, Message: "bulwark grafana provision",
		}, withCtx)
		if err != nil {
			return res, apiErr("import dashboard "+d.UID, err)
		}
		res.Dashboards = append(res.Dashboards, d.UID)
	}
	return res, nil
}

func newClient(t Target) (*goapi.GrafanaHTTPAPI, error) {
	u, err := url.Parse(t.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("grafana url %q: want http(s)://host[:port][/path]", t.URL)
	}
	cfg := &goapi.TransportConfig{
		Host:     u.Host,
		BasePath: strings.TrimSuffix(u.Path, "/") + "/api",
		Schemes:  []string{u.Scheme},
		OrgID:    t.OrgID,
	}
	switch {
	case t.Token != "":
		cfg.APIKey = t.Token
	case t.User != "":
		cfg.BasicAuth = url.UserPassword(t.User, t.Password)
	default:
		return nil, ErrAuth
	}
	return goapi.NewHTTPClientWithConfig(strfmt.Default, cfg), nil
}

// datasourceSettings are the plugin's jsonData (v4 names) and secrets.
func datasourceSettings(ds Datasource) (map[string]any, map[string]string, error) {
	host, portStr, err := net.SplitHostPort(ds.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse address %q for grafana: want host:port", ds.Addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse address %q for grafana: bad port", ds.Addr)
	}
	jd := map[string]any{
		"host": host, "port": port, "protocol": "native", "secure": ds.TLS,
		"username": ds.User, "defaultDatabase": ds.Database,
	}
	var secure map[string]string
	if ds.Password != "" {
		secure = map[string]string{"password": ds.Password}
	}
	return jd, secure, nil
}

// apiErr names what failed and maps 401/403 to ErrAuth.
func apiErr(what string, err error) error {
	var coded interface{ Code() int }
	if errors.As(err, &coded) && (coded.Code() == 401 || coded.Code() == 403) {
		return fmt.Errorf("%s: %w", what, ErrAuth)
	}
	var apiError *runtime.APIError
	if errors.As(err, &apiError) && (apiError.Code == 401 || apiError.Code == 403) {
		return fmt.Errorf("%s: %w", what, ErrAuth)
	}
	return fmt.Errorf("%s: %w", what, err)
}
