package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/detect/attacks"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

func newAttackEndCmd(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "end ID",
		Short: "End an active attack: attack mode stops on every aggregator partition",
		Long: `Writes the attack's last record (ended, by an operator) on the attacks topic
and an audit record. The aggregators apply it within seconds; a detected
attack's signal is not raised again on its class until it has been quiet for
five minutes, and a fingerprint's crawl that goes on is recognised again under
a new id.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return errors.New("--reason: say why (it goes into the attack record and the audit log)")
			}
			as, err := readAttacks(cmd.Context(), g.Kafka)
			if err != nil {
				return err
			}
			var cur *eventpb.Attack
			for _, a := range as {
				if a.GetId() == args[0] {
					cur = a
				}
			}
			switch {
			case cur == nil:
				return fmt.Errorf("attack %q is not on %s (bulwark attack list --all)", args[0], g.Kafka.Topics.Attacks)
			case cur.GetEndedUnixNano() != 0:
				return fmt.Errorf("attack %q ended at %s already", args[0], time.Unix(0, cur.GetEndedUnixNano()).UTC().Format(time.RFC3339))
			}
			rec := attacks.Ended(cur, time.Now(), reason)
			if err := writeOperatorAttack(cmd.Context(), g.Kafka, rec, "attack_end", reason, 0); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "ended %s\n", rec.GetId())
			return err
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required): recorded on the attack and in the audit log")
	return cmd
}

func newAttackStartCmd(g *globals) *cobra.Command {
	var (
		reason, fp string
		dur        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "start CLASS",
		Short: "Force attack mode on an endpoint class (login, signup, search, cart, api, pages)",
		Long: `Writes a forced attack on the attacks topic and an audit record. Every
aggregator applies it within seconds: clients without good history are
challenged on CLASS after a failure there; with --fingerprint, clients showing
it are challenged as soon as they reach CLASS and blocked once they fail
there (a fingerprint never blocks alone). It ends by itself after --for, or
with bulwark attack end ID.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ok := attacks.ParseClass(args[0])
			if !ok {
				return fmt.Errorf("endpoint class %q: want login, signup, search, cart, api or pages", args[0])
			}
			if dur < time.Minute || dur > 7*24*time.Hour {
				return fmt.Errorf("--for %s: want 1m..168h", dur)
			}
			if reason == "" {
				return errors.New("--reason: say why (it goes into the attack record and the audit log)")
			}
			if fp != "" {
				h, err := attacks.ParseFP(fp)
				if err != nil {
					return fmt.Errorf("--fingerprint: %w", err)
				}
				fp = h
			}
			rec := attacks.NewForced(c, fp, time.Now(), dur, reason)
			if err := writeOperatorAttack(cmd.Context(), g.Kafka, rec, "attack_start", reason, int64(dur/time.Second)); err != nil {
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "started %s until %s\n", rec.GetId(), time.Unix(0, rec.GetUntilUnixNano()).UTC().Format(time.RFC3339))
			return err
		},
	}
	cmd.Flags().StringVar(&fp, "fingerprint", "", "fp:<16 hex>: BLOCK clients with it that fail on CLASS (from attack records or verdict reasons)")
	cmd.Flags().DurationVar(&dur, "for", time.Hour, "how long attack mode is forced")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required): recorded on the attack and in the audit log")
	return cmd
}

// writeOperatorAttack writes an operator's attack record and its audit
// record, and waits for Kafka to acknowledge both.
func writeOperatorAttack(ctx context.Context, kc kafka.Config, a *eventpb.Attack, action, reason string, ttl int64) error {
	v, err := proto.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode attack record: %w", err)
	}
	host, _ := os.Hostname()
	actor := "cli"
	if u, err := user.Current(); err == nil {
		actor = "cli:" + u.Username
	}
	audit := &eventpb.AuditEvent{
		TimeUnixNano: time.Now().UnixNano(), Actor: actor, Role: "operator", Action: action,
		Subject: "attack:" + a.GetId(), Reason: reason, TtlSeconds: ttl,
		Detail: protojson.Format(a), Result: "ok", RemoteAddr: host,
	}
	av, err := proto.Marshal(audit)
	if err != nil {
		return fmt.Errorf("encode audit record: %w", err)
	}
	cl, err := kafka.NewClient(kc.WithClientID("cli-attack"), nil, kgo.RecordDeliveryTimeout(15*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: kc.Topics.Attacks, Key: []byte(a.GetId()), Value: v}).FirstErr(); err != nil {
		return fmt.Errorf("write attack record to %s: %w", kc.Topics.Attacks, err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: kc.Topics.Audit, Key: []byte(actor), Value: av}).FirstErr(); err != nil {
		return fmt.Errorf("attack %s written, but its audit record was not (write to %s): %w", a.GetId(), kc.Topics.Audit, err)
	}
	return nil
}
