package logparse

// Cloudflare Logpush lines of the http_requests dataset (NDJSON,
// Cloudflare's field names; see
// developers.cloudflare.com/logs/reference/log-fields/zone/http_requests).
// Logpush sends only the fields a job selects, so every field but ClientIP
// and EdgeStartTimestamp is optional. EdgeStartTimestamp may come in any of
// Logpush's timestamp formats: rfc3339 (string), unix (seconds) or
// unixnano. The time to first byte is what the client waited, the nearest
// thing to nginx's $request_time; the origin's duration counts only without
// it (it is 0 for cache hits).
var cloudflareSpec = jsonSpec{
	fields: map[string]fieldKind{
		"ClientIP":                       kRemoteAddr,
		"ClientRequestHost":              kHost,
		"ClientRequestMethod":            kMethod,
		"ClientRequestURI":               kRequestURI,
		"ClientRequestPath":              kURI,
		"ClientRequestProtocol":          kProtocol,
		"ClientRequestUserAgent":         kUserAgent,
		"ClientRequestReferer":           kReferer,
		"EdgeResponseStatus":             kStatus,
		"EdgeResponseBytes":              kBodyBytes,
		"EdgeStartTimestamp":             kTimeEpochAuto,
		"ClientCountry":                  kCDNCountry,
		"ClientASN":                      kCDNASN,
		"BotScore":                       kCDNBotScore,
		"VerifiedBotCategory":            kCDNVerifiedBot,
		"JA3Hash":                        kJA3,
		"JA4":                            kJA4,
		"ClientSSLProtocol":              kTLSVersion,
		"ClientSSLCipher":                kTLSCipher,
		"RayID":                          kCDNRequestID,
		"SecurityAction":                 kCDNSecurityAction,
		"EdgeTimeToFirstByteMs":          kMillis,
		"OriginResponseDurationMs":       kOriginMillis,
		"RequestHeaders.accept-language": kAcceptLang,
		"RequestHeaders.x-forwarded-for": kXFF,
		"RequestHeaders.sec-fetch-mode":  kSecFetchMode,
		"RequestHeaders.sec-fetch-dest":  kSecFetchDest,
		"RequestHeaders.cookie":          kCookieHeader,
	},
	foldCase:       []string{"RequestHeaders"}, // logged in lower case, compared case-insensitively all the same
	cookies:        "Cookies",
	timeField:      "EdgeStartTimestamp",
	noTime:         "missing",
	remoteField:    "ClientIP",
	remoteRequired: true,
}

func newCloudflare(c common) *jsonParser {
	return newJSON(c, &cloudflareSpec, c.opts.SessionField, nil)
}
