// Package programs lists every Bulwark service with the config structs its
// main.go loads, so that the one declaration of each setting (its struct
// tags) serves `bulwark config`, the README's generated tables and the
// checks of docker-compose.yml and the Kubernetes manifests.
package programs

import (
	"github.com/bulwarkhq/bulwark/libs/analytics/chsink"
	"github.com/bulwarkhq/bulwark/libs/decide/console"
	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/detect/aggregator"
	"github.com/bulwarkhq/bulwark/libs/enforce/cfsync"
	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/enforce/election"
	"github.com/bulwarkhq/bulwark/libs/enforce/fwsync"
	"github.com/bulwarkhq/bulwark/libs/enforce/gate"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
)

// Services lists the long-running programs in the order of the pipeline.
func Services() []config.Program {
	common := []any{service.LogConfig{}, kafka.Config{}}
	with := func(cfgs ...any) []any { return append(append([]any{}, common...), cfgs...) }
	return []config.Program{
		{Name: "bulwark-shipper", Summary: "follows access logs (and Logpush) into the requests topic", Configs: with(shipper.Config{})},
		{Name: "bulwark-aggregator", Summary: "requests to scores, in event-time windows, exactly once", Configs: with(aggregator.Config{})},
		{Name: "bulwark-decider", Summary: "scores to verdicts with the rule file", Configs: with(decider.Config{})},
		{Name: "bulwark-gate", Summary: "reverse proxy that blocks, challenges and clears before the shop", Configs: with(gate.Config{}, challenge.Config{})},
		{Name: "bulwark-sidecar", Summary: "answers verdict lookups from memory (HTTP, ext_authz)", Configs: with(sidecar.Config{}, challenge.Config{})},
		{Name: "bulwark-cfsync", Summary: "keeps Cloudflare IP lists equal to the blocking verdicts", Configs: with(cfsync.Config{}, election.Config{})},
		{Name: "bulwark-fwsync", Summary: "keeps nftables sets equal to the blocking verdicts", Configs: with(fwsync.Config{})},
		{Name: "bulwark-console", Summary: "the operator console: look clients up, act, label, see the overview", Configs: with(console.Config{}, overrides.Limits{})},
		{Name: "bulwark-chsink", Summary: "writes requests, scores, verdicts and dead letters to ClickHouse", Configs: with(chsink.Config{})},
	}
}

// Named returns the service called name (e.g. "bulwark-shipper").
func Named(name string) (config.Program, bool) {
	for _, p := range Services() {
		if p.Name == name {
			return p, true
		}
	}
	return config.Program{}, false
}

// Known is every BULWARK_* variable the services read.
func Known() map[string]bool {
	known := map[string]bool{}
	for _, p := range Services() {
		for _, v := range p.Vars() {
			known[v.Name] = true
		}
	}
	return known
}
