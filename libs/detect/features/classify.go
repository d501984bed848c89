package features

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// UAFlags classify a user agent.
type UAFlags uint8

const (
	UAFlagTool UAFlags = 1 << iota
	UAFlagHeadless
	UAFlagEmpty
	UAFlagMalformed
	UAFlagCrawler
	uaFlagKnown // set on every classified value, so 0 means "not classified yet"
)

// ReqFlags classify one request.
type ReqFlags uint16

const (
	ReqAsset ReqFlags = 1 << iota
	ReqSensitive
	ReqLogin
	ReqCheckout
	ReqPost
	ReqRefererMissing
	ReqAcceptLanguageLogged
	ReqAcceptLanguageMissing
	ReqDeepPage
	ReqMalformed // the log line's request was malformed (logparse: RequestEvent.Malformed)
	// ReqLoginFailed: a POST to an auth endpoint (any application's, found by
	// the signature layer) answered 200 without a redirect: the form or
	// XML-RPC said no. Counted like a 401/403 on a login path.
	ReqLoginFailed
	// ReqBackground: a path the operator lists as background (a page
	// script's beacon, poll or live search), not a navigation.
	ReqBackground
	// ReqNavigate: the browser said this is a page view (Sec-Fetch-Mode
	// navigate), so it is never taken for a background request.
	ReqNavigate
)

// FetchFlags classifies a request by its Sec-Fetch-Mode and Sec-Fetch-Dest
// headers, where the log has them: a navigation, a page script's own
// request (fetch/XHR/beacon: mode cors, no-cors or same-origin with an
// empty destination), or nothing said.
func FetchFlags(mode, dest string) ReqFlags {
	switch {
	case strings.EqualFold(mode, "navigate") || strings.EqualFold(dest, "document"):
		return ReqNavigate
	case (strings.EqualFold(mode, "cors") || strings.EqualFold(mode, "no-cors") || strings.EqualFold(mode, "same-origin")) &&
		(dest == "" || strings.EqualFold(dest, "empty")):
		return ReqBackground
	}
	return 0
}

// Classifier applies the Lists to requests. It caches user-agent
// classifications (a site sees few distinct user agents, and every request
// carries one), so it is not safe for concurrent use.
type Classifier struct {
	assetExt                   []string
	sensitive, login, checkout [][]byte
	background                 [][]byte
	tool, headless, crawler    [][]byte
	uaCache                    map[uint64]UAFlags
}

// uaCacheMax bounds the cache; it is cleared when full, which only costs
// re-classifying, and keeps memory flat under UA-rotating bots.
const uaCacheMax = 1 << 14

// NewClassifier builds a classifier for l.
func NewClassifier(l Lists) *Classifier {
	return &Classifier{
		assetExt:   lower(l.StaticAssetExtensions),
		sensitive:  toBytes(l.SensitivePaths),
		login:      toBytes(l.LoginPaths),
		checkout:   toBytes(l.CheckoutPaths),
		background: toBytes(l.BackgroundPaths),
		tool:       toBytes(l.ToolUAPatterns),
		headless:   toBytes(l.HeadlessUAPatterns),
		crawler:    toBytes(l.CrawlerUAPatterns),
		uaCache:    make(map[uint64]UAFlags),
	}
}

func toBytes(l []string) [][]byte {
	out := make([][]byte, len(l))
	for i, s := range lower(l) {
		out[i] = []byte(s)
	}
	return out
}

// UA classifies a user agent; h is its hash (HashUA).
func (c *Classifier) UA(ua string, h uint64) UAFlags {
	if f, ok := c.uaCache[h]; ok {
		return f
	}
	f := c.classifyUA(ua) | uaFlagKnown
	if len(c.uaCache) >= uaCacheMax {
		clear(c.uaCache)
	}
	c.uaCache[h] = f
	return f
}

// HashUA is the hash of a user agent used for caches and distinct counts.
func HashUA(ua string) uint64 { return xxhash.Sum64String(ua) }

func (c *Classifier) classifyUA(ua string) UAFlags {
	ua = strings.TrimSpace(ua)
	if ua == "" || ua == "-" {
		return UAFlagEmpty
	}
	var f UAFlags
	if malformedUA(ua) {
		f |= UAFlagMalformed
	}
	// Lower-case into a stack buffer: user agents are matched on their first
	// 512 bytes, which hold every product token that matters.
	var buf [512]byte
	n := copy(buf[:], ua)
	low := buf[:n]
	for i, b := range low {
		if 'A' <= b && b <= 'Z' {
			low[i] = b + 'a' - 'A'
		}
	}
	if containsAny(low, c.tool) {
		f |= UAFlagTool
	}
	if containsAny(low, c.headless) {
		f |= UAFlagHeadless
	}
	if containsAny(low, c.crawler) {
		f |= UAFlagCrawler
	}
	return f
}

// malformedUA reports user agents no browser or honest client sends: control
// characters or broken UTF-8, no product/version token at all, a browser
// prefix without its platform comment, or absurd length.
func malformedUA(ua string) bool {
	if len(ua) > 1024 || !utf8.ValidString(ua) {
		return true
	}
	for i := 0; i < len(ua); i++ {
		if ua[i] < 0x20 || ua[i] == 0x7f {
			return true
		}
	}
	if !strings.Contains(ua, "/") {
		return true
	}
	if strings.HasPrefix(ua, "Mozilla/") && !strings.Contains(ua, "(") {
		return true
	}
	return false
}

func containsAny(s []byte, pats [][]byte) bool {
	for _, p := range pats {
		if bytes.Contains(s, p) {
			return true
		}
	}
	return false
}

// Request classifies the path, method, headers of one request.
func (c *Classifier) Request(method, path, query, referer string, acceptLanguage *string) ReqFlags {
	var f ReqFlags
	if c.isAsset(path) {
		f |= ReqAsset
	} else {
		// Lower-case the path's head once: the prefixes are short, and
		// comparing bytes is much cheaper than folding case per prefix.
		var buf [prefixMax]byte
		low := lowerInto(buf[:], path)
		if hasPrefixAny(low, path, c.sensitive) {
			f |= ReqSensitive
		}
		if hasPrefixAny(low, path, c.login) {
			f |= ReqLogin
		}
		if hasPrefixAny(low, path, c.checkout) {
			f |= ReqCheckout
		}
		if hasPrefixAny(low, path, c.background) {
			f |= ReqBackground
		}
		if deepPage(query) {
			f |= ReqDeepPage
		}
	}
	if len(method) == 4 && strings.EqualFold(method, "POST") {
		f |= ReqPost
	}
	if referer == "" || referer == "-" {
		f |= ReqRefererMissing
	}
	if acceptLanguage != nil {
		f |= ReqAcceptLanguageLogged
		if al := *acceptLanguage; al == "" || al == "-" {
			f |= ReqAcceptLanguageMissing
		}
	}
	return f
}

func (c *Classifier) isAsset(path string) bool {
	slash := strings.LastIndexByte(path, '/')
	dot := strings.LastIndexByte(path, '.')
	if dot <= slash {
		return false
	}
	ext := path[dot:]
	for _, e := range c.assetExt {
		if strings.EqualFold(ext, e) {
			return true
		}
	}
	return false
}

// prefixMax is how much of a path is lower-cased for prefix matching;
// longer prefixes are compared with case folding.
const prefixMax = 64

func lowerInto(buf []byte, s string) []byte {
	n := copy(buf, s)
	low := buf[:n]
	for i, b := range low {
		if 'A' <= b && b <= 'Z' {
			low[i] = b + 'a' - 'A'
		}
	}
	return low
}

// hasPrefixAny reports whether path (whose lower-cased head is low) starts
// with one of the lower-case prefixes, ignoring case.
func hasPrefixAny(low []byte, path string, prefixes [][]byte) bool {
	for _, p := range prefixes {
		if len(p) <= len(low) {
			if bytes.HasPrefix(low, p) {
				return true
			}
		} else if len(p) <= len(path) && strings.EqualFold(path[:len(p)], string(p)) {
			return true
		}
	}
	return false
}

// deepPageMin is the page number from which pagination counts as deep: a
// person rarely pages past 20; a catalogue scraper walks every page.
const deepPageMin = 20

// deepPage reports a query that asks for a deep page: page=N or p=N with
// N >= 20, or offset=N / start=N with N >= 500.
func deepPage(query string) bool {
	for query != "" {
		var kv string
		kv, query, _ = strings.Cut(query, "&")
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		n, ok := atoiSmall(v)
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "page", "p", "pg", "pagenumber", "page_number":
			if n >= deepPageMin {
				return true
			}
		case "offset", "start", "from", "skip":
			if n >= 500 {
				return true
			}
		}
	}
	return false
}

// NumericID returns the trailing number of the path's last segment
// ("/product/12345", "/item-77"), which catalogue enumeration walks through.
func NumericID(path string) (uint32, bool) {
	path = strings.TrimSuffix(path, "/")
	end := len(path)
	start := end
	for start > 0 && path[start-1] >= '0' && path[start-1] <= '9' {
		start--
	}
	if start == end || end-start > 9 {
		return 0, false
	}
	n, _ := atoiSmall(path[start:end])
	return uint32(n), true
}

func atoiSmall(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
