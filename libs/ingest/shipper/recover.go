package shipper

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/ingest/tail"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
)

// deliveredSet holds lines past a checkpoint that are already in Kafka.
type deliveredSet map[string]map[int64]struct{} // file id -> line offsets

func (d deliveredSet) has(id tail.Identity, offset int64) bool {
	if len(d) == 0 {
		return false
	}
	_, ok := d[id.String()][offset]
	return ok
}

// recoverDelivered reads, from each partition's mark to its end, the
// records of this source: lines the previous run sent after its last
// checkpoint. The shipper skips them, so a kill -9 does not duplicate lines.
// The range is short: what was sent within one checkpoint interval.
func (s *Shipper) recoverDelivered(ctx context.Context, path string, cp Checkpoint, known bool) (deliveredSet, error) {
	if !known || len(cp.Partitions) == 0 {
		return nil, nil
	}
	ends, err := s.adm.ListEndOffsets(ctx, s.topics.Requests, s.topics.RequestsDLQ)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("recover %s: list end offsets: %w", path, err)
	}
	consume := map[string]map[int32]kgo.Offset{}
	remaining := map[string]int64{}
	for k, m := range cp.Partitions {
		end, ok := ends.Lookup(m.Topic, m.Partition)
		if !ok || end.Offset <= m.Offset {
			continue
		}
		if consume[m.Topic] == nil {
			consume[m.Topic] = map[int32]kgo.Offset{}
		}
		consume[m.Topic][m.Partition] = kgo.NewOffset().At(m.Offset)
		remaining[k] = end.Offset
	}
	if len(consume) == 0 {
		return nil, nil
	}
	cl, err := kafka.NewClient(s.kcfg.WithClientID("recover"), nil, kgo.ConsumePartitions(consume))
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", path, err)
	}
	defer cl.Close()
	set := deliveredSet{}
	add := func(src, fileID string, off int64) {
		if src != path {
			return
		}
		if set[fileID] == nil {
			set[fileID] = map[int64]struct{}{}
		}
		set[fileID][off] = struct{}{}
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var ev eventpb.RequestEvent
	var dl eventpb.DeadLetter
	for len(remaining) > 0 {
		fs := cl.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			return nil, fmt.Errorf("recover %s: reading back records sent after the checkpoint: %w", path, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := markKey(r.Topic, r.Partition)
			if end, ok := remaining[k]; ok && r.Offset+1 >= end {
				delete(remaining, k)
			}
			switch r.Topic {
			case s.topics.Requests:
				if proto.Unmarshal(r.Value, &ev) == nil {
					add(ev.Source, ev.SourceFileId, ev.SourceOffset)
				}
			case s.topics.RequestsDLQ:
				if proto.Unmarshal(r.Value, &dl) == nil {
					add(dl.Source, dl.SourceFileId, dl.SourceOffset)
				}
			}
		})
	}
	n := 0
	for _, offs := range set {
		n += len(offs)
	}
	if n > 0 {
		s.log.Info("found lines sent after the last checkpoint; they will not be sent again", "path", path, "lines", n)
	}
	return set, nil
}
