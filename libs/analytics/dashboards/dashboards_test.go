package dashboards_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/analytics/dashboards"
)

func load(t *testing.T) []dashboards.Dashboard {
	t.Helper()
	ds, err := dashboards.LoadDir(filepath.Join("..", "..", "..", "dashboards"))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestDashboardsAreWellFormed(t *testing.T) {
	uids := map[string]bool{}
	for _, d := range load(t) {
		if uids[d.UID] {
			t.Errorf("duplicate uid %s", d.UID)
		}
		uids[d.UID] = true
		if vars := d.Variables(); vars["database"] != "bulwark" {
			t.Errorf("%s: database variable %q", d.File, vars["database"])
		}
		panels, _ := d.Model["panels"].([]any)
		for _, p := range panels {
			pm := p.(map[string]any)
			for _, tg := range pm["targets"].([]any) {
				tm := tg.(map[string]any)
				ds, _ := tm["datasource"].(map[string]any)
				if ds["type"] != dashboards.PluginID {
					t.Errorf("%s / %v: datasource %v", d.File, pm["title"], ds)
				}
				sql, _ := tm["rawSql"].(string)
				if strings.Contains(sql, "$__timeFilter(") == false && strings.Contains(sql, "FROM") {
					t.Errorf("%s / %v: query without $__timeFilter scans all history", d.File, pm["title"])
				}
			}
		}
	}
	for _, want := range []string{"bulwark-overview", "bulwark-subject", "bulwark-rules", "bulwark-pipeline", "bulwark-savings"} {
		if !uids[want] {
			t.Errorf("dashboard %s missing", want)
		}
	}
}

func TestExpand(t *testing.T) {
	from, to := time.Unix(100, 0), time.Unix(200, 0)
	f := func(in, want string) {
		t.Helper()
		if got := dashboards.Expand(in, from, to, map[string]string{"database": "db", "subject": "ip:1.2.3.4"}); got != want {
			t.Errorf("Expand(%q)\n got %q\nwant %q", in, got, want)
		}
	}
	f("SELECT $__timeInterval(minute) AS t FROM ${database}.x WHERE $__timeFilter(minute)",
		"SELECT toStartOfMinute(minute) AS t FROM db.x WHERE minute >= toDateTime(100) AND minute <= toDateTime(200)")
	f("count() / $__interval_s", "count() / 60")
	f("BETWEEN $__fromTime AND $__toTime", "BETWEEN toDateTime(100) AND toDateTime(200)")
	f("subject = '${subject}'", "subject = 'ip:1.2.3.4'")
	f("$__timeFilter(a) AND $__timeFilter( b )", "a >= toDateTime(100) AND a <= toDateTime(200) AND b >= toDateTime(100) AND b <= toDateTime(200)")
}
