package training

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/devtools/simulate"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// FeedbackLimits cap what the feedback topic can teach, against poisoning:
// an attacker who passes (or fails) challenges on purpose from many
// addresses of one network, or in one burst, labels at most this much.
type FeedbackLimits struct {
	PerNetwork int // labels per /24 or /64 network and label (bot, human)
	PerHour    int // labels per hour of feedback time and label
}

// DefaultFeedbackLimits are `bulwark train --feedback`'s caps.
func DefaultFeedbackLimits() FeedbackLimits { return FeedbackLimits{PerNetwork: 20, PerHour: 500} }

// FeedbackStats count how feedback records became labels.
type FeedbackStats struct {
	Records    int // feedback records read
	Human, Bot int // labels made
	Unverified int // records that are no evidence (issued, abandoned, a failure without a failed check)
	Conflicts  int // subjects with both passes and failures and no operator label: left out
	Capped     int // labels dropped by FeedbackLimits
	Unusable   int // subjects that name no client (net:, bad address)
}

// vote is what the feedback says about one subject.
type vote struct {
	pass, fail int
	operator   string // "human" or "bot": an operator's label wins
	at         int64  // time of its last record
	net        netip.Prefix
}

// FeedbackLabels turns feedback records into labels (keyed as
// `bulwark simulate --labels`: a client IP, or "session:ID"). Evidence:
// an operator's label (`bulwark label`); a passed challenge -> human; a
// failed one with a failed check -> bot. Nothing else is learned: an
// issued or abandoned challenge, or a failure with no failed check, proves
// nothing. A subject with both passes and failures and no operator label
// is left out. Labels are then capped per network and per hour (lim).
func FeedbackLabels(fbs []*eventpb.Feedback, lim FeedbackLimits) (map[string]simulate.Label, FeedbackStats) {
	var st FeedbackStats
	votes := map[string]*vote{}
	var order []string
	for _, f := range fbs {
		st.Records++
		key, net, ok := feedbackKey(f)
		if !ok {
			st.Unusable++
			continue
		}
		v := votes[key]
		if v == nil {
			v = &vote{net: net}
			votes[key] = v
			order = append(order, key)
		}
		if !Evidence(f) {
			st.Unverified++
			continue
		}
		switch f.GetKind() {
		case eventpb.FeedbackKind_LABEL_HUMAN:
			v.operator = "human"
		case eventpb.FeedbackKind_LABEL_BOT:
			v.operator = "bot"
		case eventpb.FeedbackKind_CHALLENGE_PASSED:
			v.pass++
		case eventpb.FeedbackKind_CHALLENGE_FAILED:
			v.fail++
		}
		v.at = max(v.at, f.GetTimeUnixNano())
	}
	labels := map[string]simulate.Label{}
	perNet := map[string]int{}
	perHour := map[string]int{}
	for _, key := range order {
		v := votes[key]
		lbl := v.operator
		if lbl == "" {
			switch {
			case v.pass > 0 && v.fail > 0:
				st.Conflicts++
				continue
			case v.pass > 0:
				lbl = "human"
			case v.fail > 0:
				lbl = "bot"
			default:
				continue
			}
		}
		nk := lbl + "|" + v.net.String()
		hk := lbl + "|" + time.Unix(0, v.at).UTC().Truncate(time.Hour).String()
		if (v.net.IsValid() && perNet[nk] >= lim.PerNetwork) || perHour[hk] >= lim.PerHour {
			st.Capped++
			continue
		}
		if v.net.IsValid() {
			perNet[nk]++
		}
		perHour[hk]++
		kind := "feedback_" + lbl
		if v.operator != "" {
			kind = "operator_" + lbl
		}
		labels[key] = simulate.Label{Label: lbl, Kind: simulate.Kind(kind)}
		if lbl == "bot" {
			st.Bot++
		} else {
			st.Human++
		}
	}
	return labels, st
}

// Evidence reports whether a feedback record can teach: an operator's
// label, a passed challenge, or a failed one with a failed check. An issued
// or abandoned challenge, or a failure without a failed check, cannot.
func Evidence(f *eventpb.Feedback) bool {
	switch f.GetKind() {
	case eventpb.FeedbackKind_LABEL_HUMAN, eventpb.FeedbackKind_LABEL_BOT, eventpb.FeedbackKind_CHALLENGE_PASSED:
		return true
	case eventpb.FeedbackKind_CHALLENGE_FAILED:
		return failedCheck(f)
	}
	return false
}

// failedCheck reports whether a failed challenge has a check that failed:
// evidence of automation, not a timeout or a typo.
func failedCheck(f *eventpb.Feedback) bool {
	for _, c := range f.GetChecks() {
		if !c.GetPassed() {
			return true
		}
	}
	return false
}

// feedbackKey is the labels key of a feedback record's subject and the
// network it counts against.
func feedbackKey(f *eventpb.Feedback) (string, netip.Prefix, bool) {
	s, err := subject.Parse(f.GetSubject())
	if err != nil {
		return "", netip.Prefix{}, false
	}
	switch s.Kind {
	case subject.KindIP:
		a := s.Addr.Unmap()
		return a.String(), subject.NetOf(a), true
	case subject.KindSession:
		var net netip.Prefix
		if a, err := netip.ParseAddr(f.GetClientIp()); err == nil {
			net = subject.NetOf(a.Unmap())
		}
		return "session:" + s.Session, net, true
	}
	return "", netip.Prefix{}, false
}

// ReadFeedback reads the feedback topic from its start to its end offsets
// at the call, and returns its records and how many did not decode.
func ReadFeedback(ctx context.Context, kc kafka.Config) ([]*eventpb.Feedback, int, error) {
	name := kc.Topics.Feedback
	cl, err := kafka.NewClient(kc.WithClientID("train-feedback"), nil, kgo.ConsumeTopics(name),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, name)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, 0, fmt.Errorf("list end offsets of %s: %w", name, err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	var out []*eventpb.Feedback
	bad := 0
	for len(left) > 0 {
		// A partition's end may be a transaction marker no record reaches:
		// a poll that stays empty this long means the rest is markers.
		pctx, cancel := context.WithTimeout(ctx, quietPoll)
		fs := cl.PollFetches(pctx)
		timedOut := pctx.Err() != nil
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		if fs.Empty() && timedOut {
			break
		}
		for _, fe := range fs.Errors() {
			if fe.Err != context.DeadlineExceeded {
				return nil, 0, fmt.Errorf("read %s: %w", name, fe.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
			f := &eventpb.Feedback{}
			if err := proto.Unmarshal(r.Value, f); err != nil {
				bad++
				return
			}
			out = append(out, f)
		})
	}
	// In time order (as ReadCHFeedback's): which labels the caps keep must
	// not depend on how the partitions' records interleaved in the fetches.
	slices.SortStableFunc(out, func(a, b *eventpb.Feedback) int { return cmp.Compare(a.GetTimeUnixNano(), b.GetTimeUnixNano()) })
	return out, bad, nil
}

// quietPoll is how long an empty poll means the topic has nothing more.
const quietPoll = 5 * time.Second
