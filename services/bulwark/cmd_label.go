package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/bulwarkhq/bulwark/libs/decide/feedback"
)

func init() {
	commands = append(commands, newLabelCmd)
}

func newLabelCmd(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "label SUBJECT human|bot [--reason TEXT]",
		Short: "Label a client as a person or a bot (feedback topic)",
		Long: `Writes an operator's label to the feedback topic (bulwark.feedback.v1), keyed
by the subject. ` + overrideSubjects + `

The decider reads labels: "human" clears a CHALLENGE on the subject and gives it
a trust credit, as a passed challenge does; "bot" blocks it. Labels are also
training data. Prints the record as JSON.`,
		Example: "  bulwark label 203.0.113.7 human --reason 'customer called, ticket 4711'\n  bulwark label session:9f2c bot",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError{fmt.Errorf("want SUBJECT and human or bot, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := feedback.Label(args[0], args[1], reason, time.Now())
			if err != nil {
				return usageError{err}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 20*time.Second)
			defer cancel()
			if err := feedback.Write(ctx, g.Kafka, f); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("%w (is Kafka reachable at %v?)", err, g.Kafka.Brokers)
				}
				return err
			}
			b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(f)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, kept in the record")
	return cmd
}
