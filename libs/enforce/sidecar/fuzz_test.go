package sidecar_test

import (
	"encoding/json"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// FuzzHandler feeds arbitrary queries, client address headers and batch
// bodies to the API: nothing may crash or answer 5xx, and every 4xx carries
// a JSON error.
func FuzzHandler(f *testing.F) {
	b := kafkatest.Start(f)
	seed(f, b)
	s := start(f, kafkatest.Config(b), func(c *sidecar.Config) { c.GRPCAddr = "off" })
	waitReady(f, s)
	h := s.FastHandler()
	f.Add("ip=203.0.113.7", "203.0.113.7", `[{"ip":"192.0.2.1"}]`)
	f.Add("ip=::1&session=x", "2001:db8::1, 10.0.0.1", `[{"session":"s"},{"ip":"::ffff:1.2.3.4"}]`)
	f.Add("ip=%zz", "[::1]:80", `[{"ip":1}]`)
	f.Add("session=", "unknown", `{"a":[]}`)
	f.Fuzz(func(t *testing.T, query, realIP, body string) {
		check := func(method, uri, realIP, body string) {
			t.Helper()
			var c fasthttp.RequestCtx
			var req fasthttp.Request
			req.Header.SetMethod(method)
			req.SetRequestURI(uri)
			if realIP != "" {
				req.Header.Set("X-Real-IP", realIP)
			}
			req.SetBodyString(body)
			c.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
			h(&c)
			code, out := c.Response.StatusCode(), c.Response.Body()
			if code >= 500 {
				t.Fatalf("%s %s: %d %s", method, uri, code, out)
			}
			verdictAnswer := string(c.Path()) == "/v1/authz" && (code == 401 || code == 403)
			if code >= 400 && !verdictAnswer && !json.Valid(out) {
				t.Fatalf("%s %s: %d without a JSON error: %q", method, uri, code, out)
			}
			if code == 200 && !json.Valid(out) {
				t.Fatalf("%s %s: invalid JSON %q", method, uri, out)
			}
		}
		check("GET", "/v1/verdict?"+query, "", "")
		check("GET", "/v1/authz", realIP, "")
		check("POST", "/v1/verdicts", "", body)
	})
}
