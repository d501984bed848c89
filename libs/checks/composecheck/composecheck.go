// Package composecheck checks docker-compose.yml without a Docker engine: it
// loads the file with the Compose specification's own loader and checks what
// the stack needs (an image or a build, environment, a health check, and
// BULWARK_* variables the programs actually read).
package composecheck

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

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

// KnownVariables collects every BULWARK_* variable the Go code under root
// reads: the env tags of config structs (with envPrefix of nested structs).
// It reads the source rather than a list so that the check follows the code.
func KnownVariables(root string) (map[string]bool, error) {
	known := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parse %s: %w", path, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			field, ok := n.(*ast.Field)
			if !ok || field.Tag == nil {
				return true
			}
			tag, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				return true
			}
			st := reflect.StructTag(tag)
			if name, _, _ := strings.Cut(st.Get("env"), ","); name != "" {
				known[config.Prefix+name] = true
			}
			return true
		})
		return nil
	})
	return known, err
}
