package decider

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/detect/rules"
)

// layers is what the rules in force are made of: the rule file (its
// bytes, as last put in force) and the live policy from the policy topic
// (package policy). Either changing rebuilds the rule set from both, so a
// file reload keeps the live policy and a policy change keeps the file.
type layers struct {
	mu   sync.Mutex
	file []byte
	name string
	live []byte
}

// initLayers records the rule file the decider started with.
func (d *Decider) initLayers(path string) error {
	d.layers.mu.Lock()
	defer d.layers.mu.Unlock()
	if path == "" {
		d.layers.file, d.layers.name = rules.DefaultYAML(), "default"
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read rule file: %w", err)
	}
	d.layers.file, d.layers.name = data, path
	return nil
}

// reloadFile puts a changed rule file in force under the live policy.
func (d *Decider) reloadFile(data []byte, name string) (*rules.RuleSet, error) {
	d.layers.mu.Lock()
	defer d.layers.mu.Unlock()
	rs, err := rules.ParseWithLive(data, name, d.layers.live)
	if err == nil {
		err = d.SetRules(rs)
	}
	if err != nil {
		return nil, err
	}
	d.layers.file, d.layers.name = data, name
	return rs, nil
}

// SetLivePolicy lays doc (rules.LivePolicy's YAML; empty: none) over the
// rule file in force. A policy this decider's rule file cannot take (a
// threshold out of order with the file's, a rule it does not have) is
// refused and the rules in force stay.
func (d *Decider) SetLivePolicy(doc []byte) (*rules.RuleSet, error) {
	d.layers.mu.Lock()
	defer d.layers.mu.Unlock()
	rs, err := rules.ParseWithLive(d.layers.file, d.layers.name, doc)
	if err == nil {
		err = d.SetRules(rs)
	}
	if err != nil {
		return nil, err
	}
	d.layers.live = doc
	return rs, nil
}

// liveMetrics counts live policy records by result.
func newLiveMetrics(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulwark_decider_live_policy_total",
		Help: "Live policy records applied (ok) or refused (refused: logged with the reason; the rules in force stay).",
	}, []string{"result"})
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

// applyLive is the policy topic's callback.
func (s *Service) applyLive(doc []byte, at time.Time) {
	rs, err := s.d.SetLivePolicy(doc)
	s.reports.report(doc, at, err)
	if err != nil {
		s.liveResults.WithLabelValues("refused").Inc()
		s.log.Error("live policy refused; the rules in force stay", "in_force", s.d.Rules().Digest, "written", at, "err", err)
		return
	}
	s.liveResults.WithLabelValues("ok").Inc()
	s.log.Info("live policy in force", "digest", rs.Digest, "written", at, "learning", rs.Learning,
		"ladder", fmt.Sprintf("%v/%v/%v", rs.Ladder.Monitor, rs.Ladder.Challenge, rs.Ladder.Block))
}
