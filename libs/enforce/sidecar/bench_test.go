package sidecar_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// discard is a ResponseWriter that keeps nothing, so the benchmark measures
// the handler, not a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkAuthzHandler is the /v1/authz handler alone (routing, client
// address, lookup, answer), without the HTTP server around it.
func BenchmarkAuthzHandler(b *testing.B) {
	br := kafkatest.Start(b)
	s := start(b, kafkatest.Config(br), nil)
	waitReady(b, s)
	_ = s.Table().Apply("ip:203.0.113.7", &eventpb.Verdict{Action: eventpb.Action_BLOCK})
	h := s.Handler()
	req := httptest.NewRequest(http.MethodGet, "/v1/authz", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("X-Real-IP", "203.0.113.7")
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}
