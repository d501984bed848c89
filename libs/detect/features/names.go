package features

import "strings"

// ID names one feature; Names holds their spelling on the wire (Score.features).
type ID uint8

const (
	Rate10s ID = iota
	Rate1m
	Rate10m
	Rate1h
	Burst10s
	IATCV1m
	NoAssetShare10m
	Pages10m
	PathDiversity10m
	Enum10m
	Status404Share10m
	LoginFailures1m
	LoginFailures10m
	Status429_10m
	SensitiveHits10m
	PostSensitive1m
	UATool
	UAHeadless
	UAEmpty
	UAMalformed
	UACrawlerClaimed
	UACount10m
	RefererMissingShare10m
	AcceptLanguageMissingShare10m
	NetIPs10m
	NetAlikeIPs10m
	IPSessions10m
	CDNBotScore
	MalformedRequest
	// The signature features, one per signature category in the order of
	// signatures.Categories (auth excepted): the highest severity (1 low,
	// 2 medium, 3 high) a request of the subject matched in 10 min.
	SigTraversal
	SigInjection
	SigExploit
	SigWebshell
	SigSensitiveFile
	SigAdminProbe
	SigCMSProbe
	SigProtocol
	SigProxy
	SigScannerUA
	SigHits10m
	BackgroundShare10m
	NetHostingShare10m
	CountryRarity
	ASNRarity
	NumFeatures
)

// Names are the feature names, indexed by ID.
var Names = [NumFeatures]string{
	"rate_10s", "rate_1m", "rate_10m", "rate_1h", "burst_10s", "iat_cv_1m",
	"no_asset_share_10m", "pages_10m", "path_diversity_10m", "enum_10m",
	"status_404_share_10m", "login_failures_1m", "login_failures_10m", "status_429_10m",
	"sensitive_hits_10m", "post_sensitive_1m",
	"ua_tool", "ua_headless", "ua_empty", "ua_malformed", "ua_crawler_claimed", "ua_count_10m",
	"referer_missing_share_10m", "accept_language_missing_share_10m",
	"net_ips_10m", "net_alike_ips_10m", "ip_sessions_10m", "cdn_bot_score",
	"malformed_request",
	"sig_traversal", "sig_injection", "sig_exploit", "sig_webshell", "sig_sensitive_file",
	"sig_admin_probe", "sig_cms_probe", "sig_protocol", "sig_proxy", "sig_scanner_ua", "sig_hits_10m",
	"background_share_10m",
	"net_hosting_share_10m", "country_rarity", "asn_rarity",
}

// NumSigCategories is how many signature categories have a feature
// (SigTraversal .. SigScannerUA).
const NumSigCategories = int(SigHits10m - SigTraversal)

// IsSigCategory reports whether id is one of the per-category signature features.
func IsSigCategory(id ID) bool { return id >= SigTraversal && id < SigHits10m }

// SigBits is the one-hot severity bits (3 per category: low, medium, high)
// of a request that matched category cat with severity sev (1..3), for
// Obs.Sig.
func SigBits(cat int, sev uint8) uint32 {
	if cat < 0 || cat >= NumSigCategories || sev < 1 || sev > 3 {
		return 0
	}
	return 1 << (3*cat + int(sev) - 1)
}

func (id ID) String() string {
	if id < NumFeatures {
		return Names[id]
	}
	return "unknown"
}

// Lookup returns the ID of a feature name.
func Lookup(name string) (ID, bool) {
	for i, n := range Names {
		if n == name {
			return ID(i), true
		}
	}
	return 0, false
}

// Vector is the feature values of one subject at one time. A feature that
// does not apply (a net feature of an IP) or has too little data to mean
// anything (the asset share of two requests) is absent, not zero.
type Vector struct {
	V   [NumFeatures]float64
	Has uint64
}

// Set sets feature id to v.
func (x *Vector) Set(id ID, v float64) { x.V[id] = v; x.Has |= 1 << id }

// Get returns feature id and whether it is present.
func (x *Vector) Get(id ID) (float64, bool) { return x.V[id], x.Has&(1<<id) != 0 }

// Len is the number of present features.
func (x *Vector) Len() int {
	n := 0
	for h := x.Has; h != 0; h &= h - 1 {
		n++
	}
	return n
}

// Lists are the pattern lists that classify requests, from the rule file
// (scoring.Config). Entries are matched case-insensitively.
type Lists struct {
	StaticAssetExtensions []string
	SensitivePaths        []string
	LoginPaths            []string
	CheckoutPaths         []string
	BackgroundPaths       []string
	ToolUAPatterns        []string
	HeadlessUAPatterns    []string
	CrawlerUAPatterns     []string
}

func lower(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = strings.ToLower(s)
	}
	return out
}
