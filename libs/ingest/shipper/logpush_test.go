package shipper_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
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
