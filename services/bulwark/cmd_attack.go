package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/services/bulwark/internal/recordjson"
)

func init() { commands = append(commands, newAttackCmd) }

func newAttackCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attack list|end|start",
		Short: "The attacks the aggregator recorded (site-wide anomalies per endpoint class); end or force one",
		Long: `Reads the attacks topic from its start and prints the state of every attack:
its id (what and since when), whether it is active or when it ended, its
strength, whether attack mode enforces it, and why. --all includes the ended
ones of the topic's retention (30 days); without it, the active ones only.

"attack end ID" ends an attack, "attack start CLASS" forces attack mode on an
endpoint class (login, signup, search, cart, api, pages) for --for (1h),
BLOCKing clients with --fingerprint that fail there. Both write an operator
record on the attacks topic, which every aggregator follows and applies to
all its partitions within seconds, and an audit record on the audit topic.`,
		Args: cobra.NoArgs,
	}
	var all, asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "Print the active attacks (--all: every attack the topic holds)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			as, err := readAttacks(cmd.Context(), g.Kafka)
			if err != nil {
				return err
			}
			if asJSON {
				return writeAttackJSON(cmd.OutOrStdout(), as, all)
			}
			return writeAttackList(cmd.OutOrStdout(), as, all)
		},
	}
	list.Flags().BoolVar(&all, "all", false, "include ended attacks")
	list.Flags().BoolVar(&asJSON, "json", false, "print the last record of each attack as a JSON line (as 'bulwark tail attacks'; 'bulwark replay --attacks' reads them)")
	cmd.AddCommand(list, newAttackEndCmd(g), newAttackStartCmd(g))
	return cmd
}

// readAttacks reads the attacks topic up to its end and returns the last
// record of every attack, in order of start.
func readAttacks(ctx context.Context, kc kafka.Config) ([]*eventpb.Attack, error) {
	topic := kc.Topics.Attacks
	cl, err := kafka.NewClient(kc, nil, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	left := map[int32]int64{}
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = fmt.Errorf("end offset of %s/%d: %w", topic, o.Partition, o.Err)
		}
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	if lerr != nil {
		return nil, lerr
	}
	last := map[string]*eventpb.Attack{}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err) })
		if ferr != nil {
			return nil, ferr
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			if r.Offset+1 >= left[r.Partition] {
				delete(left, r.Partition)
			}
			a := &eventpb.Attack{}
			if err := proto.Unmarshal(r.Value, a); err != nil || a.GetId() == "" {
				continue // not an attack record: nothing to show
			}
			last[a.GetId()] = a
		}
	}
	out := make([]*eventpb.Attack, 0, len(last))
	for _, a := range last {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *eventpb.Attack) int {
		if a.GetStartedUnixNano() != b.GetStartedUnixNano() {
			return int(min(max(a.GetStartedUnixNano()-b.GetStartedUnixNano(), -1), 1))
		}
		if a.GetId() < b.GetId() {
			return -1
		}
		return 1
	})
	return out, nil
}

// attackOver reports whether a's last record says it is over by now: ended,
// or forced with its time up.
func attackOver(a *eventpb.Attack) bool {
	u := a.GetUntilUnixNano()
	return a.GetEndedUnixNano() != 0 || u != 0 && u <= time.Now().UnixNano()
}

// writeAttackJSON prints the last record of each attack as a JSON line.
func writeAttackJSON(w io.Writer, as []*eventpb.Attack, all bool) error {
	for _, a := range as {
		if !all && attackOver(a) {
			continue
		}
		b, err := proto.Marshal(a)
		if err == nil {
			b, err = recordjson.Encode(recordjson.Attacks, nil, b)
		}
		if err != nil {
			return fmt.Errorf("attack %s: %w", a.GetId(), err)
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}

// writeAttackList prints one attack a line.
func writeAttackList(w io.Writer, as []*eventpb.Attack, all bool) error {
	n := 0
	for _, a := range as {
		state := "active"
		if u := a.GetUntilUnixNano(); u != 0 && a.GetEndedUnixNano() == 0 {
			if u <= time.Now().UnixNano() {
				// A forced attack whose time is up: the aggregators end it
				// at their next event of that time; it is over either way.
				if !all {
					continue
				}
				state = "ended " + time.Unix(0, u).UTC().Format(time.RFC3339)
			} else {
				state = "active until " + time.Unix(0, u).UTC().Format(time.RFC3339)
			}
		} else if a.GetEndedUnixNano() != 0 {
			if !all {
				continue
			}
			state = "ended " + time.Unix(0, a.GetEndedUnixNano()).UTC().Format(time.RFC3339)
		}
		mode := "recorded"
		if a.GetEnforcing() {
			mode = "attack mode"
		}
		if _, err := fmt.Fprintf(w, "%s  %s  %s  strength %.1f  %s\n", a.GetId(), state, mode, a.GetStrength(), a.GetReason()); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		_, err := fmt.Fprintln(w, "no attacks")
		return err
	}
	return nil
}
