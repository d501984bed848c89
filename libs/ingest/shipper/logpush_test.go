package shipper_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func TestLogpushReceiver(t *testing.T) {
	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	cfg := testConfig()
	cfg.Follow = true
	cfg.LogpushAddr = "127.0.0.1:0"
	cfg.LogpushToken = "s3cret"
	cfg.LogpushMaxBytes = 1 << 20
	s, err := shipper.New(cfg, kcfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The handler produces on the shipper's client; Run is what sets it up.
	stop := runShipperInstance(t, s)
	defer stop()
	srv := httptest.NewServer(s.LogpushHandler())
	defer srv.Close()

	var lines []string
	for i := range 50 {
		lines = append(lines, `{"ClientIP":"203.0.113.9","ClientRequestHost":"shop.example","ClientRequestMethod":"GET","ClientRequestURI":"/product/`+strconv.Itoa(i)+`","ClientRequestProtocol":"HTTP/2","EdgeResponseStatus":200,"EdgeResponseBytes":1024,"EdgeStartTimestamp":"2026-11-21T10:00:03Z","ClientRequestUserAgent":"Mozilla/5.0","ClientCountry":"de","ClientASN":3320,"BotScore":12,"RayID":"8f0c1b2a3d4e5f6`+strconv.Itoa(i%10)+`"}`)
	}
	lines = append(lines, `{"content":"tests"}`, `{"ClientIP":"not an ip"}`)
	body := gz(t, strings.Join(lines, "\n")+"\n")

	post := func(token string, body []byte, enc string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/?job=shop", bytes.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, _ := post("wrong", body, "gzip"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	if code, out := post("s3cret", []byte("not gzip at all"), "gzip"); code != http.StatusBadRequest || out["error"] == nil {
		t.Fatalf("bad gzip: %d %v, want 400 with a JSON error", code, out)
	}
	code, out := post("s3cret", body, "") // gzip recognised by its magic bytes
	if code != http.StatusOK || out["shipped"] != float64(50) || out["rejected"] != float64(1) {
		t.Fatalf("push: %d %v, want 200 with 50 shipped and 1 rejected", code, out)
	}
	// The push answers once every record is acknowledged: the end offsets
	// are final, so nothing beyond what is read below exists.
	adm := kafkatest.Client(t, b)
	for topic, want := range map[string]int64{kcfg.Topics.Requests: 50, kcfg.Topics.RequestsDLQ: 1} {
		var n int64
		for _, end := range kafkatest.EndOffsets(t, adm, topic) {
			n += end
		}
		if n != want {
			t.Fatalf("%s holds %d records after the push, want %d", topic, n, want)
		}
	}
	recs := kafkatest.ReadAll(t, b, kcfg.Topics.Requests, 50, 10*time.Second)
	if len(recs) != 50 || string(recs[0].Key) != "203.0.113.9" {
		t.Fatalf("read %d records from the requests topic, want 50 keyed by client IP", len(recs))
	}
	dead := kafkatest.ReadAll(t, b, kcfg.Topics.RequestsDLQ, 1, 10*time.Second)
	if len(dead) != 1 || string(dead[0].Key) != "logpush:shop" {
		t.Fatalf("dead letters %d, want 1 keyed by the job's source", len(dead))
	}
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// TestLogpushAllOrNothing: a push is published whole or not at all. After
// each push the records in both topics are counted.
func TestLogpushAllOrNothing(t *testing.T) {
	b := kafkatest.Start(t)
	kcfg := kafkatest.Config(b)
	cfg := testConfig()
	cfg.Follow = true
	cfg.LogpushAddr = "127.0.0.1:0"
	cfg.LogpushMaxBytes = 200 << 10
	s, err := shipper.New(cfg, kcfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := runShipperInstance(t, s)
	defer stop()
	srv := httptest.NewServer(s.LogpushHandler())
	defer srv.Close()
	adm := kadm.NewClient(kafkatest.Client(t, b))
	count := func(topic string) int64 {
		t.Helper()
		ends, err := adm.ListEndOffsets(context.Background(), topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	cfLine := func(i int) string {
		return `{"ClientIP":"203.0.113.9","ClientRequestHost":"shop.example","ClientRequestMethod":"GET","ClientRequestURI":"/p/` + strconv.Itoa(i) + `","ClientRequestProtocol":"HTTP/2","EdgeResponseStatus":200,"EdgeResponseBytes":1024,"EdgeStartTimestamp":"2026-11-21T10:00:03Z","ClientRequestUserAgent":"Mozilla/5.0","RayID":"8f0c1b2a3d4e5f60"}`
	}
	lines := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			b.WriteString(cfLine(i) + "\n")
		}
		return b.String()
	}
	tooLong := `{"ClientIP":"203.0.113.9","ClientRequestURI":"/` + strings.Repeat("a", 100<<10) + `"}` + "\n"
	bigPlain := lines(0, 1000) // about 300 KiB
	bigGz := gz(t, bigPlain)
	cut := gz(t, lines(0, 100))
	cut = cut[:len(cut)*2/3]

	var wantReq, wantDead int64
	f := func(name string, body []byte, enc string, wantCode int, addReq, addDead int64) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/?job=shop", bytes.NewReader(body))
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != wantCode || (wantCode != http.StatusOK && out["error"] == nil) {
			t.Fatalf("%s: %d %v, want %d", name, resp.StatusCode, out, wantCode)
		}
		// The handler answers after every record is acknowledged, or having
		// produced none: the counts are final when it has answered.
		wantReq += addReq
		wantDead += addDead
		if got, dead := count(kcfg.Topics.Requests), count(kcfg.Topics.RequestsDLQ); got != wantReq || dead != wantDead {
			t.Fatalf("%s: topics hold %d requests and %d dead letters, want %d and %d", name, got, dead, wantReq, wantDead)
		}
	}
	f("an over-long line goes to the DLQ, the push succeeds", gz(t, lines(0, 10)+tooLong+lines(10, 20)), "", http.StatusOK, 20, 1)
	f("an over-long last line without a newline", []byte(lines(20, 25)+strings.TrimSuffix(tooLong, "\n")), "", http.StatusOK, 5, 1)
	f("too big once decompressed", bigGz, "gzip", http.StatusRequestEntityTooLarge, 0, 0)
	f("too big as sent", []byte(bigPlain), "", http.StatusRequestEntityTooLarge, 0, 0)
	f("gzip cut short", cut, "gzip", http.StatusBadRequest, 0, 0)
	f("not gzip at all", []byte("not gzip"), "gzip", http.StatusBadRequest, 0, 0)
	f("unknown encoding", []byte(lines(0, 3)), "br", http.StatusBadRequest, 0, 0)
	f("then a good push", gz(t, lines(30, 40)), "", http.StatusOK, 10, 0)

	dead := kafkatest.ReadAll(t, b, kcfg.Topics.RequestsDLQ, 2, 10*time.Second)
	for _, r := range dead {
		var dl eventpb.DeadLetter
		if err := proto.Unmarshal(r.Value, &dl); err != nil || dl.Reason != "too_long" || len(dl.Raw) != cfg.MaxLineBytes {
			t.Errorf("dead letter: reason %q, raw %d bytes (%v); want too_long with the line's first %d bytes", dl.Reason, len(dl.Raw), err, cfg.MaxLineBytes)
		}
	}
}
