package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/services/bulwark/internal/recordjson"
)

func init() { commands = append(commands, newTailCmd) }

func newTailCmd(g *globals) *cobra.Command {
	var (
		fromBeginning bool
		limit         int
	)
	cmd := &cobra.Command{
		Use:   "tail TOPIC",
		Short: "Print a topic's records as JSON lines",
		Long: `Prints the records of TOPIC as JSON lines, decoded by the topic: requests and
scores as their Protobuf JSON, dead letters with the raw line as text, and
verdicts as the verdict JSON of the sidecar (a lifted verdict prints
{"subject":...,"action":"LIFTED"}). TOPIC is a topic name or one of requests,
dlq, scores, verdicts, feedback, audit (the console's audit log), attacks. Starts
at the end and follows; --from-beginning reads the topic from its start, -n stops
after that many records.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic, kind, err := resolveTopic(g.Kafka.Topics, args[0])
			if err != nil {
				return usageError{err}
			}
			start := kgo.NewOffset().AtEnd()
			if fromBeginning {
				start = kgo.NewOffset().AtStart()
			}
			cl, err := kafka.NewClient(g.Kafka, nil, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start))
			if err != nil {
				return err
			}
			defer cl.Close()
			return tailRecords(cmd.Context(), cl, kind, limit, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&fromBeginning, "from-beginning", false, "read the topic from its start")
	cmd.Flags().IntVarP(&limit, "n", "n", 0, "stop after this many records (0: follow until interrupted)")
	return cmd
}

func resolveTopic(t kafka.Topics, name string) (string, recordjson.Kind, error) {
	switch name {
	case "requests", t.Requests:
		return t.Requests, recordjson.Requests, nil
	case "dlq", t.RequestsDLQ:
		return t.RequestsDLQ, recordjson.DeadLetters, nil
	case "scores", t.Scores:
		return t.Scores, recordjson.Scores, nil
	case "verdicts", t.Verdicts:
		return t.Verdicts, recordjson.Verdicts, nil
	case "feedback", t.Feedback:
		return t.Feedback, recordjson.Feedback, nil
	case "audit", t.Audit:
		return t.Audit, recordjson.Audit, nil
	case "attacks", t.Attacks:
		return t.Attacks, recordjson.Attacks, nil
	}
	return "", 0, fmt.Errorf("unknown topic %q: want %s, %s, %s, %s, %s, %s or %s", name, t.Requests, t.RequestsDLQ, t.Scores, t.Verdicts, t.Feedback, t.Audit, t.Attacks)
}

func tailRecords(ctx context.Context, cl *kgo.Client, kind recordjson.Kind, limit int, out io.Writer) error {
	w := bufio.NewWriter(out)
	defer w.Flush()
	n := 0
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err) })
		if ferr != nil {
			return ferr
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			line, err := recordjson.Encode(kind, r.Key, r.Value)
			if err != nil {
				line, _ = json.Marshal(map[string]any{"error": err.Error(), "partition": r.Partition, "offset": r.Offset})
			}
			w.Write(line)
			w.WriteByte('\n')
			n++
			if limit > 0 && n >= limit {
				return nil
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}
