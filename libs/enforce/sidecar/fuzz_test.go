package sidecar_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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
	h := s.Handler()
	f.Add("ip=203.0.113.7", "203.0.113.7", `[{"ip":"192.0.2.1"}]`)
	f.Add("ip=::1&session=x", "2001:db8::1, 10.0.0.1", `[{"session":"s"},{"ip":"::ffff:1.2.3.4"}]`)
	f.Add("ip=%zz", "[::1]:80", `[{"ip":1}]`)
	f.Add("session=", "unknown", `{"a":[]}`)
	f.Fuzz(func(t *testing.T, query, realIP, body string) {
		check := func(req *http.Request) {
			t.Helper()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s: %d %s", req.Method, req.URL, rec.Code, rec.Body)
			}
			verdictAnswer := req.URL.Path == "/v1/authz" && (rec.Code == 401 || rec.Code == 403)
			if rec.Code >= 400 && !verdictAnswer && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s: %d without a JSON error: %q", req.Method, req.URL, rec.Code, rec.Body)
			}
			if rec.Code == 200 && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s: invalid JSON %q", req.Method, req.URL, rec.Body)
			}
		}
		req := httptest.NewRequest(http.MethodGet, "/v1/verdict", nil)
		req.URL.RawQuery = query
		check(req)

		check(req2authz(realIP))

		req = httptest.NewRequest(http.MethodPost, "/v1/verdicts", strings.NewReader(body))
		check(req)

		// The same authz request through the sidecar's own server.
		var c fasthttp.RequestCtx
		var fr fasthttp.Request
		fr.SetRequestURI("/v1/authz")
		fr.Header.Set("X-Real-IP", realIP)
		c.Init(&fr, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
		s.FastHandler()(&c)
		code, out := c.Response.StatusCode(), c.Response.Body()
		if code >= 500 || code == 400 && !json.Valid(out) {
			t.Fatalf("fast authz with X-Real-IP %q: %d %q", realIP, code, out)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req2authz(realIP))
		if rec.Code != code || rec.Header().Get(sidecar.HeaderAction) != string(c.Response.Header.Peek(sidecar.HeaderAction)) {
			t.Fatalf("X-Real-IP %q: net/http answers %d %s, fasthttp %d %s", realIP, rec.Code, rec.Header().Get(sidecar.HeaderAction), code, c.Response.Header.Peek(sidecar.HeaderAction))
		}
	})
}

func req2authz(realIP string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/v1/authz", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header["X-Real-Ip"] = []string{realIP}
	return req
}
