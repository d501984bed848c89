package recordjson_test

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/services/bulwark/internal/recordjson"
)

func TestEncode(t *testing.T) {
	mustMarshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	f := func(kind recordjson.Kind, key string, value []byte, wantSub string) {
		t.Helper()
		out, err := recordjson.Encode(kind, []byte(key), value)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if !json.Valid(out) || !strings.Contains(string(out), wantSub) {
			t.Fatalf("got %s, want valid JSON containing %s", out, wantSub)
		}
	}
	f(recordjson.Requests, "192.0.2.1", mustMarshal(&eventpb.RequestEvent{ClientIp: "192.0.2.1", Path: "/x"}), `"client_ip":"192.0.2.1"`)
	f(recordjson.Scores, "ip:192.0.2.1", mustMarshal(&eventpb.Score{Subject: "ip:192.0.2.1", Reasons: []string{"rate_10s=48/s"}}), `"rate_10s=48/s"`)
	f(recordjson.DeadLetters, "f", mustMarshal(&eventpb.DeadLetter{Raw: []byte("garbage \xff"), Reason: "bad_utf8"}), `"raw":"garbage \ufffd"`)
	f(recordjson.Verdicts, "ip:192.0.2.1", mustMarshal(&eventpb.Verdict{Action: eventpb.Action_BLOCK}), `"action":"BLOCK"`)
	f(recordjson.Verdicts, "ip:192.0.2.1", nil, `"action":"LIFTED"`)
	f(recordjson.Attacks, "login-failures-2026-12-03T10:14Z", mustMarshal(&eventpb.Attack{Id: "login-failures-2026-12-03T10:14Z", Enforcing: true}), `"enforcing":true`)
	if _, err := recordjson.Encode(recordjson.Scores, nil, []byte{0xff}); err == nil {
		t.Fatal("garbage must not decode")
	}
}
