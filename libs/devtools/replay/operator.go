package replay

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// maxAttackLine bounds one line of an attack records file.
const maxAttackLine = 1 << 20

// ReadAttackRecords reads attack records written as JSON lines: `bulwark
// attack list --all --json` (the last record of each attack) or `bulwark
// tail attacks` (every record). Blank lines are skipped; a line that is not
// an attack record is an error naming it, so that a wrong file is never
// replayed as if no operator had acted.
func ReadAttackRecords(r io.Reader) ([]*eventpb.Attack, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxAttackLine)
	var out []*eventpb.Attack
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		a := &eventpb.Attack{}
		if err := protojson.Unmarshal(line, a); err != nil {
			return nil, fmt.Errorf("line %d: not an attack record: %w", n, err)
		}
		if a.GetId() == "" {
			return nil, fmt.Errorf("line %d: an attack record without an id", n)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line after %d records: %w", len(out), err)
	}
	return out, nil
}

// ReadAttackTopic reads every committed record of the attacks topic up to
// its end offsets at the call.
func ReadAttackTopic(ctx context.Context, kc kafka.Config) ([]*eventpb.Attack, error) {
	name := kc.Topics.Attacks
	// Control records are kept so that a transaction's commit marker,
	// which can be the last offset, counts as read.
	cl, err := kafka.NewClient(kc.WithClientID("replay-attacks"), nil,
		kgo.ConsumeTopics(name), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, name)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", name, err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var out []*eventpb.Attack
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err) })
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if r.Offset+1 >= end {
				delete(left, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			a := &eventpb.Attack{}
			if proto.Unmarshal(r.Value, a) == nil && a.GetId() != "" {
				out = append(out, a)
			}
		})
	}
	return out, nil
}
