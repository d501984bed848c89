package logparse

import (
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// A Logpush http_requests line with the fields Bulwark reads, as
// Cloudflare writes them (timestamps: rfc3339).
const cloudflareLine = `{"BotScore":12,"BotScoreSrc":"Machine Learning","CacheCacheStatus":"miss","ClientASN":64496,` +
	`"ClientCountry":"de","ClientDeviceType":"desktop","ClientIP":"203.0.113.7","ClientRequestHost":"shop.example",` +
	`"ClientRequestMethod":"POST","ClientRequestProtocol":"HTTP/2","ClientRequestReferer":"https://shop.example/cart",` +
	`"ClientRequestURI":"/checkout?step=2","ClientRequestUserAgent":"python-requests/2.31.0",` +
	`"ClientSSLCipher":"AEAD-AES128-GCM-SHA256","ClientSSLProtocol":"TLSv1.3",` +
	`"Cookies":{"__session":"c00k1e"},"EdgeResponseBytes":2311,"EdgeResponseStatus":403,` +
	`"EdgeStartTimestamp":"2026-11-21T10:00:03Z","EdgeEndTimestamp":"2026-11-21T10:00:03.12Z",` +
	`"EdgeTimeToFirstByteMs":118,"JA3Hash":"e7d705a3286e19ea42f587b344ee6865",` +
	`"JA4":"t13d1516h2_8daaf6152771_02713d6af862","OriginResponseDurationMs":97,"RayID":"8e1f2a3b4c5d6e7f",` +
	`"RequestHeaders":{"accept-language":"en-US,en;q=0.5"},"SecurityAction":"block","VerifiedBotCategory":"",` +
	`"WorkerSubrequest":false,"ZoneName":"shop.example"}`

func TestCloudflare(t *testing.T) {
	p := mustNew(t, FormatCloudflare, Options{SessionCookie: "__session"})
	f := func(line string, want *eventpb.RequestEvent) {
		t.Helper()
		expectParse(t, p, FormatCloudflare, line, want)
	}
	f(cloudflareLine, &eventpb.RequestEvent{
		TimeUnixNano: ts("2026-11-21T10:00:03Z"), ClientIp: "203.0.113.7", Host: "shop.example", Method: "POST",
		Path: "/checkout", Query: "step=2", Protocol: "HTTP/2", Status: 403, ResponseBytes: 2311,
		RequestTimeSeconds: f64(0.118), UserAgent: "python-requests/2.31.0", Referer: "https://shop.example/cart",
		AcceptLanguage: str("en-US,en;q=0.5"), SessionId: "c00k1e", TlsVersion: "TLSv1.3",
		TlsCipher: "AEAD-AES128-GCM-SHA256", Ja3: "e7d705a3286e19ea42f587b344ee6865",
		Ja4: "t13d1516h2_8daaf6152771_02713d6af862", CdnCountry: "DE", CdnAsn: 64496, CdnBotScore: u32(12),
		CdnVerifiedBot: boolp(false), CdnRequestId: "8e1f2a3b4c5d6e7f", CdnSecurityAction: "block",
	})
	// unixnano (Logpush's default), verified bot, plain HTTP, origin duration only, IPv6.
	f(`{"ClientIP":"2001:db8::1","EdgeStartTimestamp":1763719203123456789,"ClientRequestURI":"/robots.txt",`+
		`"ClientSSLProtocol":"none","ClientSSLCipher":"NONE","VerifiedBotCategory":"Search Engine Crawler",`+
		`"OriginResponseDurationMs":5,"SecurityAction":"unknown","ClientCountry":"US","BotScore":0}`,
		&eventpb.RequestEvent{TimeUnixNano: 1763719203123456789, ClientIp: "2001:db8::1", Path: "/robots.txt",
			CdnVerifiedBot: boolp(true), RequestTimeSeconds: f64(0.005), CdnCountry: "US"})
	// unix seconds, as a number and as a string; ClientRequestPath; nulls.
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"ClientRequestPath":"/p","ClientRequestUserAgent":null,"BotScore":null}`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2025-11-21T10:00:03Z"), ClientIp: "192.0.2.1", Path: "/p"})
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":"1763719203"}`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2025-11-21T10:00:03Z"), ClientIp: "192.0.2.1"})
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":"2025-11-21T12:00:03.5+02:00"}`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2025-11-21T10:00:03.5Z"), ClientIp: "192.0.2.1"})

	// Session from a top-level field; from the Cookie request header.
	pf := mustNew(t, FormatCloudflare, Options{SessionField: "SessionID"})
	expectParse(t, pf, FormatCloudflare, `{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"SessionID":"s1"}`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2025-11-21T10:00:03Z"), ClientIp: "192.0.2.1", SessionId: "s1"})
	ph := mustNew(t, FormatCloudflare, Options{SessionCookie: "sid"})
	expectParse(t, ph, FormatCloudflare,
		`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"RequestHeaders":{"Cookie":"x=1; sid=s2","Accept-Language":"fr"}}`,
		&eventpb.RequestEvent{TimeUnixNano: ts("2025-11-21T10:00:03Z"), ClientIp: "192.0.2.1", SessionId: "s2",
			AcceptLanguage: str("fr")})
}

func TestCloudflareRejects(t *testing.T) {
	p := mustNew(t, FormatCloudflare, Options{})
	f := func(line string, want error, inMsg string) {
		t.Helper()
		expectReject(t, p, line, want, inMsg)
	}
	f(`{"ClientIP":"192.0.2.1"}`, ErrBadSyntax, "EdgeStartTimestamp")
	f(`{"EdgeStartTimestamp":1763719203}`, ErrBadIP, "ClientIP")
	f(`{"ClientIP":"not-an-ip","EdgeStartTimestamp":1763719203}`, ErrBadIP, "ClientIP")
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":-1}`, ErrBadTime, "EdgeStartTimestamp")
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1.5}`, ErrBadTime, "EdgeStartTimestamp")
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":"2026-02-30T10:00:03Z"}`, ErrBadTime, "no such day")
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":"yesterday"}`, ErrBadTime, "EdgeStartTimestamp")
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":"99999999999999999999"}`, ErrBadTime, "EdgeStartTimestamp")
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":true}`, ErrBadTime, "EdgeStartTimestamp")
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"EdgeResponseStatus":"x"}`, ErrBadSyntax, "EdgeResponseStatus")
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"ClientASN":-3}`, ErrBadSyntax, "ClientASN")
	f(`{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1763719203,"EdgeTimeToFirstByteMs":"x"}`, ErrBadSyntax, "EdgeTimeToFirstByteMs")
	f(`not json`, ErrBadSyntax, "cannot parse JSON")
}
