package rules

import (
	"strings"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Env is what a rule's expression sees (documented in default.yaml).
type Env struct {
	Score    float64            `expr:"score"`
	Subject  string             `expr:"subject"`
	Kind     string             `expr:"kind"`
	Features map[string]float64 `expr:"features"`
	Reasons  []string           `expr:"reasons"`
	Event    Event              `expr:"event"`
	Crawler  Crawler            `expr:"crawler"`
	// Bot is Crawler under the name the bot directory uses.
	Bot Crawler `expr:"bot"`
	// IP and Geo are where the client is (the CDN's fields, else the
	// shipper's GeoIP databases): ip.asn in [16509, 14618], geo.country == "DE".
	IP  IPInfo  `expr:"ip"`
	Geo GeoInfo `expr:"geo"`
}

// IPInfo is the client's address and network.
type IPInfo struct {
	Address string `expr:"address"`
	ASN     int    `expr:"asn"`
	ASOrg   string `expr:"as_org"`
}

// GeoInfo is the client's location.
type GeoInfo struct {
	Country string `expr:"country"`
}

// Event is the request that produced the score.
type Event struct {
	Method         string `expr:"method"`
	Host           string `expr:"host"`
	Path           string `expr:"path"`
	Query          string `expr:"query"`
	Protocol       string `expr:"protocol"`
	Status         int    `expr:"status"`
	ResponseBytes  int    `expr:"response_bytes"`
	UserAgent      string `expr:"user_agent"`
	Referer        string `expr:"referer"`
	AcceptLanguage string `expr:"accept_language"`
	SessionID      string `expr:"session_id"`
	ClientIP       string `expr:"client_ip"`
	Country        string `expr:"country"`
	ASN            int    `expr:"asn"`
	ASOrg          string `expr:"as_org"`
	JA3            string `expr:"ja3"`
	JA4            string `expr:"ja4"`
	TLSVersion     string `expr:"tls_version"`
	CDNBotScore    int    `expr:"cdn_bot_score"`
	CDNVerifiedBot bool   `expr:"cdn_verified_bot"`
}

// Crawler is the outcome of checking the client's bot claim.
type Crawler struct {
	Name     string `expr:"name"`
	Category string `expr:"category"`
	// Policy is the rule file's policy for the bot ("allow", ..., "none").
	Policy   string `expr:"policy"`
	Status   string `expr:"status"` // verified, impostor, unverifiable, or "" when nothing is claimed
	Claimed  bool   `expr:"claimed"`
	Verified bool   `expr:"verified"`
	// Fake: an impostor (a check that could have succeeded failed).
	Fake         bool `expr:"fake"`
	Impostor     bool `expr:"impostor"`
	Unverifiable bool `expr:"unverifiable"`
	// RobotsViolation: the site's robots.txt forbids this bot the request's path.
	RobotsViolation bool `expr:"robots_violation"`
}

// NewEnv builds the environment of a score; the crawler part is the
// caller's (the decider verifies crawlers).
func NewEnv(s *eventpb.Score, c Crawler) Env {
	sub := s.GetSubject()
	kind, _, _ := strings.Cut(sub, ":")
	t := s.GetTrigger()
	cdnScore := -1
	if t != nil && t.CdnBotScore != nil {
		cdnScore = int(t.GetCdnBotScore())
	}
	country, asn := t.GetGeoCountry(), t.GetAsn()
	if country == "" { // an event from before the shipper enriched events
		country = t.GetCdnCountry()
	}
	if asn == 0 {
		asn = t.GetCdnAsn()
	}
	return Env{
		Score: s.GetScore(), Subject: sub, Kind: kind,
		Features: s.GetFeatures(), Reasons: s.GetReasons(), Crawler: c, Bot: c,
		Event: Event{
			Method: t.GetMethod(), Host: t.GetHost(), Path: t.GetPath(), Query: t.GetQuery(),
			Protocol: t.GetProtocol(), Status: int(t.GetStatus()), ResponseBytes: int(t.GetResponseBytes()),
			UserAgent: t.GetUserAgent(), Referer: t.GetReferer(), AcceptLanguage: t.GetAcceptLanguage(),
			SessionID: t.GetSessionId(), ClientIP: t.GetClientIp(), Country: country,
			ASN: int(asn), ASOrg: t.GetAsOrg(), JA3: t.GetJa3(), JA4: t.GetJa4(), TLSVersion: t.GetTlsVersion(),
			CDNBotScore: cdnScore, CDNVerifiedBot: t.GetCdnVerifiedBot(),
		},
		IP:  IPInfo{Address: t.GetClientIp(), ASN: int(asn), ASOrg: t.GetAsOrg()},
		Geo: GeoInfo{Country: country},
	}
}
