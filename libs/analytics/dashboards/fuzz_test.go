package dashboards_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/analytics/dashboards"
)

func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		"SELECT $__timeInterval(minute) AS t FROM ${database}.x WHERE $__timeFilter(minute)",
		"$__timeFilter(", "$__timeInterval()", "count() / $__interval_s", "$__fromTime $__toTime ${x}",
		"$__timeFilter(a) AND $__timeFilter(b", "",
	} {
		f.Add(s)
	}
	from, to := time.Unix(100, 0), time.Unix(200, 0)
	f.Fuzz(func(t *testing.T, sql string) {
		out := dashboards.Expand(sql, from, to, map[string]string{"database": "db"})
		if strings.Contains(sql, "$__") || strings.Contains(sql, "${") {
			return
		}
		if out != sql {
			t.Fatalf("Expand changed SQL without macros: %q -> %q", sql, out)
		}
	})
}
