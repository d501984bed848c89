package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/detect/signatures"
)

func init() { commands = append(commands, newSignaturesCmd) }

func newSignaturesCmd(*globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "signatures check [FILE...] | signatures default",
		Short: "Check request-signature files, or print the signatures that ship with Bulwark",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check [FILE...]",
		Short: "Validate signature files as the aggregator would load them, running every signature's test strings",
		Long: `Loads each FILE over the shipped signatures, as bulwark-aggregator does with
BULWARK_SIGNATURES_FILE, compiles it and runs every signature's match and
no_match test strings; prints what it holds. Without FILE, checks the shipped
set. An error names the file, the signature and the test string. Exit 1 if
any file is bad.`,
		RunE: func(cmd *cobra.Command, files []string) error {
			if len(files) == 0 {
				files = []string{""}
			}
			var bad int
			for _, f := range files {
				s, err := signatures.Load(f)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", err)
					bad++
					continue
				}
				per := map[string]int{}
				tests := 0
				for _, sig := range s.Sigs {
					per[sig.Category]++
					tests += sig.Tests()
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (revision %s, digest %s): %d signatures, %d test strings pass;",
					s.Name, s.Revision, s.Digest, len(s.Sigs), tests)
				for _, c := range signatures.Categories {
					fmt.Fprintf(cmd.OutOrStdout(), " %s %d", c, per[c])
				}
				fmt.Fprintln(cmd.OutOrStdout())
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d signature files are invalid", bad, len(files))
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "default",
		Short: "Print the shipped signature file (documented; copy single signatures into your own file)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(signatures.DefaultYAML())
			return err
		},
	})
	return cmd
}
