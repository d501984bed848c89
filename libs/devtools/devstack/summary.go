package devstack

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

// summary prints, every few seconds, what the pipeline is doing: events/s,
// subjects tracked, verdicts by action and the top blocked subjects.
type summary struct {
	out         io.Writer
	reg         prometheus.Gatherer
	events      eventCounts
	table       *verdicttable.Table
	sidecarAddr string
	every       time.Duration

	start     time.Time
	lastCount int64
	lastAt    time.Time
	tried     bool
}

func (s *summary) run(ctx context.Context) error {
	if s.every <= 0 {
		s.every = 5 * time.Second
	}
	s.start, s.lastAt = time.Now(), time.Now()
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.print(time.Now())
		}
	}
}

func (s *summary) print(now time.Time) {
	sent, lost := s.events.read(s.reg)
	rate := float64(sent-s.lastCount) / now.Sub(s.lastAt).Seconds()
	s.lastCount, s.lastAt = sent, now

	byAction := map[eventpb.Action]int{}
	var blocked []*eventpb.Verdict
	s.table.Range(func(subject string, v *eventpb.Verdict) bool {
		if !verdict.Active(v, now) {
			return true
		}
		byAction[v.GetAction()]++
		if v.GetAction() == eventpb.Action_BLOCK {
			if v.Subject == "" {
				v.Subject = subject
			}
			blocked = append(blocked, v)
		}
		return true
	})
	sort.Slice(blocked, func(i, j int) bool {
		if blocked[i].Score != blocked[j].Score {
			return blocked[i].Score > blocked[j].Score
		}
		return blocked[i].Subject < blocked[j].Subject
	})

	up := now.Sub(s.start).Round(time.Second)
	issued, passed, failed := s.challenges()
	fmt.Fprintf(s.out, "[%s] events %.0f/s (%s %d, %s %d) | subjects %s | verdicts BLOCK %d, CHALLENGE %d, MONITOR %d | challenges issued %.0f, passed %.0f, failed %.0f\n",
		up, rate, s.events.sentWord, sent, s.events.lostWord, lost, s.subjects(),
		byAction[eventpb.Action_BLOCK], byAction[eventpb.Action_CHALLENGE], byAction[eventpb.Action_MONITOR], issued, passed, failed)
	for i, v := range blocked {
		if i == 5 {
			fmt.Fprintf(s.out, "    ... and %d more blocked\n", len(blocked)-5)
			break
		}
		fmt.Fprintf(s.out, "    BLOCK %-28s score %5.1f  %s\n", v.Subject, v.Score, strings.Join(first(v.Reasons, 3), ", "))
	}
	if len(blocked) > 0 && !s.tried {
		s.tried = true
		if ip, ok := strings.CutPrefix(blocked[0].Subject, "ip:"); ok {
			fmt.Fprintf(s.out, "    try: curl -s 'http://%s/v1/verdict?ip=%s'\n", s.sidecarAddr, ip)
		}
	}
}

// challenges sums the challenge pages' counters (gate and sidecar):
// pages issued, answers that passed, and answers that failed a check or
// were refused (forged, expired, replayed, misbound).
func (s *summary) challenges() (issued, passed, failed float64) {
	issued = sumMetric(s.reg, "bulwark_challenge_issued_total", "", "")
	passed = sumMetric(s.reg, "bulwark_challenge_answers_total", "result", "passed")
	failed = sumMetric(s.reg, "bulwark_challenge_answers_total", "result", "failed") +
		sumMetric(s.reg, "bulwark_challenge_refused_total", "", "")
	return issued, passed, failed
}

// sumMetric sums a counter's series, those with label=value when label is
// not empty.
func sumMetric(g prometheus.Gatherer, name, label, value string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && !hasLabel(m.GetLabel(), label, value) {
				continue
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func hasLabel(ls []*dto.LabelPair, name, value string) bool {
	for _, l := range ls {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}

// subjects reads the aggregator's active-subject gauges.
func (s *summary) subjects() string {
	mfs, err := s.reg.Gather()
	if err != nil {
		return "?"
	}
	var parts []string
	for _, mf := range mfs {
		if mf.GetName() != "bulwark_aggregator_active_subjects" {
			continue
		}
		for _, m := range mf.GetMetric() {
			kind := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					kind = l.GetValue()
				}
			}
			if kind == "ip" || kind == "net" || kind == "session" {
				parts = append(parts, fmt.Sprintf("%s %.0f", kind, m.GetGauge().GetValue()))
			}
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none yet"
	}
	return strings.Join(parts, ", ")
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
