package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/devtools/programs"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/service"
)

func init() { commands = append(commands, newConfigCmd) }

func newConfigCmd(_ *globals) *cobra.Command {
	var program string
	cmd := &cobra.Command{
		Use:   "config",
		Short: "List every BULWARK_ variable of every program, with default and help",
		Long: `Lists the environment variables each Bulwark program reads, with the default
and what each does. Everything shown comes from the one declaration of each
setting (the struct tags of its component's Config), the same that the programs
parse and validate at start-up and that the README's tables are generated from.

  bulwark config                       every program
  bulwark config --program bulwark-sidecar
  bulwark config check                 validate this environment for every program
  bulwark config readme README.md      rewrite the generated tables in a file
  bulwark config readme --check README.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := selectPrograms(program)
			if err != nil {
				return usageError{err}
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for i, p := range ps {
				if i > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "%s: %s\n", p.Name, p.Summary)
				for _, v := range p.Vars() {
					def := v.Default
					if v.Required {
						def = "(required)"
					}
					fmt.Fprintf(w, "  %s\t%s\t%s\n", v.Name, def, v.Help)
				}
			}
			return w.Flush()
		},
	}
	cmd.PersistentFlags().StringVar(&program, "program", "", "only this program (e.g. bulwark-shipper)")
	cmd.AddCommand(newConfigCheckCmd(&program), newConfigReadmeCmd())
	return cmd
}

func selectPrograms(name string) ([]config.Program, error) {
	all := allPrograms()
	if name == "" {
		return all, nil
	}
	for _, p := range all {
		if p.Name == name || p.Name == "bulwark-"+name {
			return []config.Program{p}, nil
		}
	}
	names := make([]string, len(all))
	for i, p := range all {
		names[i] = p.Name
	}
	return nil, fmt.Errorf("--program %q: want one of %s", name, strings.Join(names, ", "))
}

func newConfigCheckCmd(program *string) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate the current environment for every program (or --program)",
		Long: `Parses and validates the environment exactly as each program does at start-up,
and reports every error (naming the variable) and every BULWARK_ variable that no
program reads (usually a typo). Exit 0 when all is well.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := selectPrograms(*program)
			if err != nil {
				return usageError{err}
			}
			environ := map[string]string{}
			for _, kv := range os.Environ() {
				if k, v, ok := strings.Cut(kv, "="); ok {
					environ[k] = v
				}
			}
			var problems []string
			for _, p := range ps {
				for _, e := range p.Check(environ) {
					problems = append(problems, p.Name+": "+e.Error())
				}
			}
			unknown := config.Unknown(environ, allPrograms())
			sort.Strings(unknown)
			for _, k := range unknown {
				problems = append(problems, k+": no program reads this variable")
			}
			for _, p := range problems {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			if len(problems) > 0 {
				return fmt.Errorf("config check: %d problem(s)", len(problems))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "config ok for %d program(s)\n", len(ps))
			return nil
		},
	}
}

// The README holds one generated table per program between these markers;
// `make docs` rewrites them and `make lint` fails when they are stale.
const (
	readmeBegin = "<!-- bulwark config: %s -->"
	readmeEnd   = "<!-- end bulwark config -->"
)

func newConfigReadmeCmd() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "readme FILE",
		Short: "Rewrite the generated variable tables in FILE (or --check that they are current)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			old, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("config readme: %w", err)
			}
			updated, n, err := renderReadme(string(old), allPrograms())
			if err != nil {
				return fmt.Errorf("config readme %s: %w", file, err)
			}
			if check {
				if updated != string(old) {
					return fmt.Errorf("config readme %s: the variable tables are stale; run make docs", file)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d variable tables current\n", file, n)
				return nil
			}
			if updated == string(old) {
				return nil
			}
			return os.WriteFile(file, []byte(updated), 0o644)
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "fail if FILE's tables differ from the declarations")
	return cmd
}

// renderReadme replaces the body between each begin marker (naming a program)
// and the next end marker with that program's table.
func renderReadme(doc string, ps []config.Program) (string, int, error) {
	byName := map[string]config.Program{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	var b strings.Builder
	n := 0
	for {
		i := strings.Index(doc, "<!-- bulwark config: ")
		if i < 0 {
			b.WriteString(doc)
			return b.String(), n, nil
		}
		j := strings.Index(doc[i:], "-->")
		if j < 0 {
			return "", n, errors.New("unterminated begin marker")
		}
		name := strings.TrimSpace(doc[i+len("<!-- bulwark config: ") : i+j])
		p, ok := byName[name]
		if !ok {
			return "", n, fmt.Errorf("marker names unknown program %q", name)
		}
		k := strings.Index(doc[i:], readmeEnd)
		if k < 0 {
			return "", n, fmt.Errorf("no %q after the marker of %s", readmeEnd, name)
		}
		b.WriteString(doc[:i])
		fmt.Fprintf(&b, readmeBegin+"\n", name)
		b.WriteString(config.MarkdownTable(p.Vars()))
		b.WriteString(readmeEnd)
		doc = doc[i+k+len(readmeEnd):]
		n++
	}
}

// allPrograms is every service plus the CLI's own variables.
func allPrograms() []config.Program {
	return append(programs.Services(), config.Program{
		Name: "bulwark", Summary: "the operator CLI (variables beyond the services')",
		Configs: []any{service.LogConfig{}, kafka.Config{}, chschema.Config{}, grafanaEnv{}},
	})
}
