package signatures

import (
	"bufio"
	"os"
	"sort"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// TestRealLogs runs every line of the shared real logs through the shipped
// signatures and reports what matched. The 2022 nginx log is mostly
// internet scanners; the 2015 Apache log is a personal site's visitors and
// crawlers, where every match was inspected: wp-login.php and
// /administrator/ probes on a site that runs neither, and one fckeditor
// connector probe. That log bounds the benign match rate.
func TestRealLogs(t *testing.T) {
	s := Default()
	m := s.NewMatcher()
	for _, tc := range []struct {
		name     string
		maxShare float64 // of lines matching an attack signature
	}{
		{"nginx-combined-2022.log", 1},
		{"apache-combined-2015.log", 0.003},
	} {
		f, err := os.Open("../../../../shared/data/real-logs/" + tc.name)
		if err != nil {
			t.Skipf("real logs not found beside the repository: %v", err)
		}
		p, err := logparse.New(logparse.FormatNginx, logparse.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev eventpb.RequestEvent
		per := map[string]int{}
		lines, matched := 0, 0
		for sc.Scan() {
			if p.Parse(sc.Bytes(), &ev) != nil {
				continue
			}
			lines++
			ids := attackHits(s, m, Request{Method: ev.Method, Path: ev.Path, Query: ev.Query, Protocol: ev.Protocol,
				UserAgent: ev.UserAgent, Referer: ev.Referer})
			if len(ids) > 0 {
				matched++
			}
			for _, id := range ids {
				per[id]++
			}
		}
		f.Close()
		ids := make([]string, 0, len(per))
		for id := range per {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return per[ids[i]] > per[ids[j]] })
		t.Logf("%s: %d of %d lines match an attack signature (%.2f%%)", tc.name, matched, lines, 100*float64(matched)/float64(lines))
		for _, id := range ids {
			t.Logf("    %-26s %d", id, per[id])
		}
		if share := float64(matched) / float64(lines); share > tc.maxShare {
			t.Errorf("%s: %.3f%% of lines matched, want <= %.3f%%", tc.name, 100*share, 100*tc.maxShare)
		}
	}
}
