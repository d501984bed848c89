package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/detect/rules"
)

func init() { commands = append(commands, newRulesCmd) }

func newRulesCmd(*globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules check FILE... | rules default",
		Short: "Check rule files, or print the rule file that ships with Bulwark",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE...",
		Short: "Validate rule files as the decider and aggregator would load them",
		Long: `Loads each FILE over the shipped default, as bulwark-decider does, and prints
what it holds; an error names the file, line and field. Exit 1 if any file is bad.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			var bad int
			for _, f := range files {
				rs, err := rules.Load(f)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", err)
					bad++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%s): ladder %g/%g/%g, %d rules, learning %v\n",
					f, rs.Digest, rs.Ladder.Monitor, rs.Ladder.Challenge, rs.Ladder.Block, len(rs.Rules), rs.Learning)
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d rule files are invalid", bad, len(files))
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "default",
		Short: "Print the shipped rule file (a documented starting point for your own)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(rules.DefaultYAML())
			return err
		},
	})
	return cmd
}
