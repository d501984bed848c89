package sidecar_test

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// BenchmarkAuthzHandler is the /v1/authz handler alone (routing, client
// address, lookup, answer), without the HTTP server around it.
func BenchmarkAuthzHandler(b *testing.B) {
	br := kafkatest.Start(b)
	s := start(b, kafkatest.Config(br), nil)
	waitReady(b, s)
	_ = s.Table().Apply("ip:203.0.113.7", &eventpb.Verdict{Action: eventpb.Action_BLOCK})
	h := s.FastHandler()
	var c fasthttp.RequestCtx
	var req fasthttp.Request
	req.SetRequestURI("/v1/authz")
	req.Header.Set("X-Real-IP", "203.0.113.7")
	c.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	b.ReportAllocs()
	for b.Loop() {
		c.Response.Reset()
		h(&c)
	}
	if c.Response.StatusCode() != 403 {
		b.Fatalf("authz answered %d, want 403", c.Response.StatusCode())
	}
}
