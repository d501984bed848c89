// Command bulwark is the operator CLI: the embedded dev pipeline, shipping
// and replaying logs, reading topics, manual overrides and provisioning.
// Each subcommand lives in its own cmd_*.go file and only wires libs/ parts.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// commands is filled by the cmd_*.go files, one constructor each, so that
// adding a subcommand touches only its own file.
var commands []func(*globals) *cobra.Command

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
			fmt.Fprintln(os.Stderr, "bulwark: "+ue.Error()+" (see --help)")
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "bulwark: "+err.Error())
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "bulwark",
		Short:         "Bulwark: find and stop bots from the access logs you already have",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.init(cmd)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	g.register(root)
	for _, c := range commands {
		cmd := c(g)
		if args := cmd.Args; args != nil {
			cmd.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError{err}
				}
				return nil
			}
		}
		root.AddCommand(cmd)
	}
	return root
}

// usageError marks bad command-line input (exit 2, not 1).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
