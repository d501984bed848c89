// Package dashboards loads Bulwark's Grafana dashboards (dashboards/*.json)
// and expands the Grafana macros in their SQL, so that tests can run every
// panel's query against a real ClickHouse. Provisioning a Grafana over its
// HTTP API lives with the CLI (services/bulwark/internal/grafana), so that
// only the CLI depends on the Grafana API client.
package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PluginID is the Grafana ClickHouse datasource plugin the dashboards use.
const PluginID = "grafana-clickhouse-datasource"

// Dashboard is one dashboard file.
type Dashboard struct {
	File  string
	UID   string
	Title string
	Model map[string]any // the JSON model, as Grafana imports it
}

// Query is the SQL of one panel target.
type Query struct {
	Panel string
	RefID string
	SQL   string
}

// LoadDir reads every *.json in dir as a dashboard, sorted by file name.
func LoadDir(dir string) ([]Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboards (*.json) in %s", dir)
	}
	sort.Strings(files)
	out := make([]Dashboard, 0, len(files))
	for _, f := range files {
		d, err := Load(f)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Load reads one dashboard file and checks it has a uid and a title.
func Load(file string) (Dashboard, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Dashboard{}, fmt.Errorf("read dashboard: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return Dashboard{}, fmt.Errorf("dashboard %s: %w", file, err)
	}
	uid, _ := m["uid"].(string)
	title, _ := m["title"].(string)
	if uid == "" || title == "" {
		return Dashboard{}, fmt.Errorf("dashboard %s: needs a uid and a title", file)
	}
	return Dashboard{File: file, UID: uid, Title: title, Model: m}, nil
}

// Queries returns the SQL of every panel target (rawSql).
func (d Dashboard) Queries() []Query {
	var out []Query
	panels, _ := d.Model["panels"].([]any)
	for _, p := range panels {
		pm, _ := p.(map[string]any)
		title, _ := pm["title"].(string)
		targets, _ := pm["targets"].([]any)
		for _, t := range targets {
			tm, _ := t.(map[string]any)
			sql, _ := tm["rawSql"].(string)
			ref, _ := tm["refId"].(string)
			out = append(out, Query{Panel: title, RefID: ref, SQL: sql})
		}
	}
	return out
}

// Variables returns the dashboard's template variables with their current
// (default) values.
func (d Dashboard) Variables() map[string]string {
	out := map[string]string{}
	tpl, _ := d.Model["templating"].(map[string]any)
	list, _ := tpl["list"].([]any)
	for _, v := range list {
		vm, _ := v.(map[string]any)
		name, _ := vm["name"].(string)
		cur, _ := vm["current"].(map[string]any)
		if val, ok := cur["value"].(string); ok {
			out[name] = val
		} else if q, ok := vm["query"].(string); ok {
			out[name] = q
		}
	}
	return out
}

// Expand turns a panel's SQL into what the plugin would send, for a server
// without toStartOfInterval (ClickHouse 18.16): $__timeInterval(c) becomes
// toStartOfMinute(c) and $__interval_s 60, which is what the plugin sends for
// one-minute intervals. The plugin's other macros and the ${var} template
// variables are expanded as Grafana would.
func Expand(sql string, from, to time.Time, vars map[string]string) string {
	f, t := strconv.FormatInt(from.Unix(), 10), strconv.FormatInt(to.Unix(), 10)
	sql = expandCalls(sql, "$__timeFilter", func(c string) string {
		return c + " >= toDateTime(" + f + ") AND " + c + " <= toDateTime(" + t + ")"
	})
	sql = expandCalls(sql, "$__timeInterval", func(c string) string { return "toStartOfMinute(" + c + ")" })
	r := []string{"$__fromTime", "toDateTime(" + f + ")", "$__toTime", "toDateTime(" + t + ")", "$__interval_s", "60"}
	for k, v := range vars {
		r = append(r, "${"+k+"}", v)
	}
	return strings.NewReplacer(r...).Replace(sql)
}

// expandCalls replaces macro(arg) with fn(arg); arguments hold no parentheses
// in Bulwark's dashboards (a column name), which the test checks.
func expandCalls(sql, macro string, fn func(string) string) string {
	for {
		i := strings.Index(sql, macro+"(")
		if i < 0 {
			return sql
		}
		start := i + len(macro) + 1
		j := strings.IndexByte(sql[start:], ')')
		if j < 0 {
			return sql
		}
		sql = sql[:i] + fn(strings.TrimSpace(sql[start:start+j])) + sql[start+j+1:]
	}
}
