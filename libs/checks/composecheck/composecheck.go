// Package composecheck checks docker-compose.yml without a Docker engine: it
// loads the file with the Compose specification's own loader and checks what
// the stack needs (an image or a build, environment, a health check, and
// BULWARK_* variables the programs actually read).
package composecheck

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/bulwarkhq/bulwark/libs/devtools/programs"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// Load loads a compose file as `docker compose` would, with all profiles
// enabled and the given environment for interpolation.
func Load(ctx context.Context, file string, env []string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithEnv(env),
		cli.WithProfiles([]string{"*"}),
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithName("bulwark"),
	)
	if err != nil {
		return nil, err
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	return p, nil
}

// Problems lists what is wrong with the project: services without an image
// or build, environment or health check, and BULWARK_* variables not in known.
func Problems(p *types.Project, known map[string]bool) []string {
	var out []string
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := p.Services[n]
		if s.Image == "" && s.Build == nil {
			out = append(out, n+": neither image nor build")
		}
		if len(s.Environment) == 0 {
			out = append(out, n+": no environment")
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			out = append(out, n+": no healthcheck")
		}
		for k := range s.Environment {
			if strings.HasPrefix(k, config.Prefix) && !known[k] {
				out = append(out, fmt.Sprintf("%s: %s is not a variable any Bulwark program reads", n, k))
			}
		}
	}
	return out
}

// KnownVariables is every BULWARK_* variable the services read, from the one
// declaration of each setting (libs/devtools/programs).
func KnownVariables() map[string]bool { return programs.Known() }
