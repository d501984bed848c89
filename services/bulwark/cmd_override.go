package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

func init() {
	commands = append(commands,
		func(g *globals) *cobra.Command { return newOverrideCmd(g, "block", eventpb.Action_BLOCK) },
		func(g *globals) *cobra.Command { return newOverrideCmd(g, "challenge", eventpb.Action_CHALLENGE) },
		func(g *globals) *cobra.Command { return newOverrideCmd(g, "allow", eventpb.Action_ALLOW) },
		newUnblockCmd,
	)
}

const overrideSubjects = `SUBJECT is ip:ADDR, net:CIDR or session:ID; a bare IP address or CIDR works too.
A fingerprint (fp:HEX) may be allowed, unblocked or labelled human, never blocked,
challenged or labelled a bot: many people share a browser build (use bulwark attack
start CLASS --fingerprint fp:HEX).`

func newOverrideCmd(g *globals, name string, action eventpb.Action) *cobra.Command {
	var (
		ttl    time.Duration
		reason string
		force  bool
	)
	what := map[eventpb.Action]string{
		eventpb.Action_BLOCK:     "Block a client",
		eventpb.Action_CHALLENGE: "Challenge a client",
		eventpb.Action_ALLOW:     "Allow a client: no computed verdict",
	}[action]
	cmd := &cobra.Command{
		Use:   name + " SUBJECT [--ttl D] [--reason R] [--force]",
		Short: what + " (operator override)",
		Long: what + `, until --ttl runs out.
` + overrideSubjects + `

Guards: --ttl must be positive and at most BULWARK_OVERRIDE_MAX_TTL (720h,
30 days); a network wider than BULWARK_OVERRIDE_MAX_NET_V4 (/16) or
BULWARK_OVERRIDE_MAX_NET_V6 (/32) is refused unless --force is given. A
session id is 1 to 256 bytes of visible ASCII.

Writes an operator verdict to the verdict topic: the sidecar, the edge syncers
and the decider see it within a second, and it wins over computed verdicts
until it expires (the decider then writes its tombstone). An allow on a
network also covers the addresses in it. Prints the verdict JSON.`,
		Example: "  bulwark " + name + " 203.0.113.7 --ttl 2h --reason 'card testing'\n  bulwark " + name + " net:198.51.100.0/24",
		Args:    oneSubject,
		RunE: func(cmd *cobra.Command, args []string) error {
			limits, err := config.LoadFrom[overrides.Limits](nil)
			if err != nil {
				return err
			}
			req := overrides.Request{Action: action, Subject: args[0], TTL: ttl, Reason: reason, Force: force}
			key, v, err := limits.Verdict(req, time.Now())
			if errors.Is(err, overrides.ErrTooWide) {
				return usageError{fmt.Errorf("%w: add --force", err)}
			}
			if err != nil {
				return usageError{err}
			}
			if err := writeOverride(cmd.Context(), g, key, v); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", verdict.Marshal(key, v))
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the override holds: positive, at most $BULWARK_OVERRIDE_MAX_TTL (720h unless set)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, shown in the verdict's reasons")
	cmd.Flags().BoolVar(&force, "force", false, "write a network wider than $BULWARK_OVERRIDE_MAX_NET_V4 / _V6 (/16 and /32 unless set)")
	return cmd
}

func newUnblockCmd(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "unblock SUBJECT [--reason R]",
		Short: "Lift any verdict on a client (computed or operator)",
		Long: `Lifts the verdict on SUBJECT, computed or set by an operator, by writing a
tombstone to the verdict topic. ` + overrideSubjects + `

The aggregator's windows still remember what the client did before, so the
decider computes no new verdict for it during the rule file's
overrides.unblock_grace (default 15m); after that it is judged afresh. To
exempt a client for a fixed time, use 'bulwark allow --ttl D' instead.`,
		Example: "  bulwark unblock 203.0.113.7 --reason 'false positive, ticket 4711'",
		Args:    oneSubject,
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := subject.Canonical(args[0])
			if err != nil {
				return usageError{err}
			}
			if err := writeOverride(cmd.Context(), g, key, nil); err != nil {
				return err
			}
			g.Log.Info("unblocked", "subject", key, "reason", reason)
			fmt.Fprintf(cmd.OutOrStdout(), "{\"subject\":%q,\"action\":\"LIFTED\"}\n", key)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (logged)")
	return cmd
}

// oneSubject makes a missing or extra argument a usage error (exit 2).
func oneSubject(cmd *cobra.Command, args []string) error {
	if err := cobra.ExactArgs(1)(cmd, args); err != nil {
		return usageError{fmt.Errorf("want one SUBJECT: %w", err)}
	}
	return nil
}

func writeOverride(ctx context.Context, g *globals, key string, v *eventpb.Verdict) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := overrides.Write(ctx, g.Kafka, key, v)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (is Kafka reachable at %v?)", err, g.Kafka.Brokers)
	}
	return err
}
