// Package recordjson prints the records of Bulwark's topics as JSON, the way
// `bulwark tail` shows them to a person.
package recordjson

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// Kind says which message a topic holds.
type Kind int

const (
	Requests Kind = iota + 1
	DeadLetters
	Scores
	Verdicts
	Feedback
	Audit
	Attacks
)

var marshal = protojson.MarshalOptions{UseProtoNames: true}

// Encode renders one record as a JSON object (no newline).
func Encode(kind Kind, key, value []byte) ([]byte, error) {
	switch kind {
	case Requests:
		return protoJSON(value, &eventpb.RequestEvent{})
	case Scores:
		return protoJSON(value, &eventpb.Score{})
	case Feedback:
		return protoJSON(value, &eventpb.Feedback{})
	case Audit:
		return protoJSON(value, &eventpb.AuditEvent{})
	case Attacks:
		return protoJSON(value, &eventpb.Attack{})
	case DeadLetters:
		var dl eventpb.DeadLetter
		if err := proto.Unmarshal(value, &dl); err != nil {
			return nil, fmt.Errorf("decode dead letter: %w", err)
		}
		// The raw line as text (invalid UTF-8 shows as U+FFFD), not base64.
		return json.Marshal(struct {
			Source       string `json:"source"`
			SourceOffset int64  `json:"source_offset"`
			Format       string `json:"format"`
			Reason       string `json:"reason"`
			Detail       string `json:"detail"`
			Raw          string `json:"raw"`
		}{dl.Source, dl.SourceOffset, dl.Format, dl.Reason, dl.Detail, string(dl.Raw)})
	case Verdicts:
		if value == nil {
			return json.Marshal(map[string]string{"subject": string(key), "action": "LIFTED"})
		}
		var v eventpb.Verdict
		if err := proto.Unmarshal(value, &v); err != nil {
			return nil, fmt.Errorf("decode verdict: %w", err)
		}
		return verdict.Marshal(string(key), &v), nil
	}
	return nil, fmt.Errorf("unknown record kind %d", kind)
}

func protoJSON(value []byte, m proto.Message) ([]byte, error) {
	if err := proto.Unmarshal(value, m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	return marshal.Marshal(m)
}
