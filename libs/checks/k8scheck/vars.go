package k8scheck

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/bulwarkhq/bulwark/libs/devtools/programs"
	"github.com/bulwarkhq/bulwark/libs/enforce/election"
	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// The variables the checks read are taken from their one declaration (the
// config structs, and libs/devtools/programs for what each program reads),
// never spelled here: a renamed setting renames the check.
var (
	shipperStopTimeout = config.VarOf(shipper.Config{}, "StopTimeout")
	leaderElection     = config.VarOf(election.Config{}, "Enabled")
	leaderLeaseName    = config.VarOf(election.Config{}, "LeaseName")
)

// programOf names the Bulwark program a container runs: by its image
// (ghcr.io/bulwarkhq/bulwark-shipper:1.4 runs bulwark-shipper), else by the
// workload's name (an image you built yourself); "" when neither is a
// Bulwark program.
func programOf(w *workload, ct corev1.Container) string {
	if rest, ok := strings.CutPrefix(ct.Image, ImagePrefix); ok {
		name, _, _ := strings.Cut(rest, ":")
		name, _, _ = strings.Cut(name, "@")
		if _, ok := programs.Named("bulwark-" + name); ok {
			return "bulwark-" + name
		}
	}
	if _, ok := programs.Named(w.name); ok {
		return w.name
	}
	return ""
}

// programVars is the set of variables the container's program reads; nil
// when it runs no program the registry knows.
func programVars(w *workload, ct corev1.Container) map[string]bool {
	p, ok := programs.Named(programOf(w, ct))
	if !ok {
		return nil
	}
	vars := map[string]bool{}
	for _, v := range p.Vars() {
		vars[v.Name] = true
	}
	return vars
}

// knownVariables fails every BULWARK_* variable of the container that no
// Bulwark program reads (the compose check's rule: a ConfigMap shared by
// all programs is fine): a misspelled or stale setting is otherwise
// silently ignored.
func (c *checker) knownVariables(w *workload, ct corev1.Container) {
	known := programs.Known()
	names := c.environment(ct)
	for _, e := range ct.Env { // also those from secrets, which environment leaves out
		names[e.Name] = ""
	}
	for name := range names {
		if strings.HasPrefix(name, config.Prefix) && !known[name] {
			c.fail(w.obj, "container %s: %s is not a variable any Bulwark program reads", ct.Name, name)
		}
	}
}
