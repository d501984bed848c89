package replay

import (
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// appendVerdict appends v as one contract JSON line.
func appendVerdict(dst []byte, v *eventpb.Verdict) []byte {
	dst = verdict.AppendJSON(dst, v.GetSubject(), v)
	return append(dst, '\n')
}

func actionName(a eventpb.Action) string { return verdict.ActionString(a) }
