// Package scoring turns a subject's feature values into a score from 0
// (human-like) to 100 (certainly automated), with the reasons a person reads
// in a dashboard. Its Config is the `features:` section of the rule file.
package scoring

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
)

// Signal says how one feature turns into points. Strength is 0 at From and 1
// at To, linear in between and clamped; To may be below From for features
// where a lower value is worse (iat_cv_1m, cdn_bot_score). A signal at full
// strength alone scores Weight; several combine as independent evidence
// (noisy-OR): score = 100 * (1 - Π(1 - weight_i*strength_i/100)).
type Signal struct {
	Weight float64 `yaml:"weight"`
	From   float64 `yaml:"from"`
	To     float64 `yaml:"to"`
}

// Strength maps a feature value to 0..1.
func (s Signal) Strength(v float64) float64 {
	if s.To == s.From {
		if (s.To >= 0 && v >= s.To) || (s.To < 0 && v <= s.To) {
			return 1
		}
		return 0
	}
	x := (v - s.From) / (s.To - s.From)
	switch {
	case x <= 0 || math.IsNaN(x):
		return 0
	case x >= 1:
		return 1
	}
	return x
}

// Config is the `features:` section of the rule file. Lists given in the
// file replace the defaults; weights are merged per feature (a file that sets
// only `weights: {rate_10s: {weight: 80}}` keeps the default from/to and every
// other feature's default). Matching is case-insensitive; paths match as
// prefixes, user agents as substrings, extensions as the path's suffix.
type Config struct {
	// Weights by feature name (see libs/detect/features/doc.go for the features).
	Weights map[string]Signal `yaml:"weights"`
	// StaticAssetExtensions mark a request as a static asset (CSS, JS,
	// images, fonts) rather than a page.
	StaticAssetExtensions []string `yaml:"static_asset_extensions"`
	// SensitivePaths are probed by scanners (/.env, /wp-login.php, ...).
	SensitivePaths []string `yaml:"sensitive_paths"`
	// LoginPaths: a 401/403 there is a failed login.
	LoginPaths []string `yaml:"login_paths"`
	// CheckoutPaths are cart and checkout endpoints (POST floods by checkout bots).
	CheckoutPaths []string `yaml:"checkout_paths"`
	// BackgroundPaths are requests a page's scripts make on their own
	// (beacons, telemetry, polls, live search): not navigations, so they
	// are left out of timing regularity, page counts and asset ratios.
	// Requests that repeat one path at a steady rhythm from a client that
	// loads pages with assets are recognised without being listed.
	BackgroundPaths []string `yaml:"background_paths"`
	// ToolUAPatterns are HTTP libraries and scanners (curl, python-requests).
	ToolUAPatterns []string `yaml:"tool_ua_patterns"`
	// HeadlessUAPatterns are automated browsers (HeadlessChrome, PhantomJS).
	HeadlessUAPatterns []string `yaml:"headless_ua_patterns"`
	// CrawlerUAPatterns are self-declared search-engine and SEO crawlers.
	// The claim is not verified here; the decider verifies crawlers.
	CrawlerUAPatterns []string `yaml:"crawler_ua_patterns"`
}

// FeatureNames are the features a Config may weigh, in documentation order.
var FeatureNames = features.Names[:]

// DefaultConfig returns the weights and lists Bulwark ships with. The
// thresholds are set so that one strong signal alone reaches CHALLENGE (70)
// or BLOCK (90) only where it is near-certain (a 25 req/s client, a tool UA
// with a burst, a login-failure storm), and weak signals (missing referer)
// only matter together with others.
func DefaultConfig() Config {
	return Config{
		Weights: map[string]Signal{
			"rate_10s":                          {Weight: 92, From: 4, To: 20},
			"rate_1m":                           {Weight: 85, From: 2, To: 10},
			"rate_10m":                          {Weight: 75, From: 1, To: 6},
			"rate_1h":                           {Weight: 60, From: 0.5, To: 3},
			"burst_10s":                         {Weight: 40, From: 15, To: 50},
			"iat_cv_1m":                         {Weight: 55, From: 0.6, To: 0.1},
			"no_asset_share_10m":                {Weight: 40, From: 0.8, To: 1},
			"pages_10m":                         {Weight: 60, From: 150, To: 600},
			"path_diversity_10m":                {Weight: 15, From: 0.9, To: 1},
			"enum_10m":                          {Weight: 75, From: 5, To: 40},
			"status_404_share_10m":              {Weight: 55, From: 0.3, To: 0.8},
			"login_failures_1m":                 {Weight: 92, From: 3, To: 15},
			"login_failures_10m":                {Weight: 85, From: 8, To: 50},
			"status_429_10m":                    {Weight: 45, From: 5, To: 50},
			"sensitive_hits_10m":                {Weight: 85, From: 0, To: 5},
			"post_sensitive_1m":                 {Weight: 90, From: 6, To: 30},
			"ua_tool":                           {Weight: 75, From: 0, To: 1},
			"ua_headless":                       {Weight: 80, From: 0, To: 1},
			"ua_empty":                          {Weight: 70, From: 0, To: 1},
			"ua_malformed":                      {Weight: 45, From: 0, To: 1},
			"ua_crawler_claimed":                {Weight: 55, From: 0, To: 1},
			"ua_count_10m":                      {Weight: 60, From: 3, To: 15},
			"referer_missing_share_10m":         {Weight: 20, From: 0.8, To: 1},
			"accept_language_missing_share_10m": {Weight: 35, From: 0.5, To: 1},
			"net_ips_10m":                       {Weight: 0, From: 0, To: 0},
			"net_alike_ips_10m":                 {Weight: 95, From: 3, To: 20},
			"ip_sessions_10m":                   {Weight: 0, From: 0, To: 0},
			"cdn_bot_score":                     {Weight: 70, From: 30, To: 1},
			"malformed_request":                 {Weight: 60, From: 0, To: 2},
			// Signature categories: the value is the highest severity
			// matched in 10 min (1 low, 2 medium, 3 high). Attacks no browser
			// sends score 90+ on one high-severity request; probing (admin
			// consoles, CMS fingerprints) only adds up with other signals.
			"sig_traversal":      {Weight: 90, From: 1, To: 3},
			"sig_injection":      {Weight: 90, From: 1, To: 3},
			"sig_exploit":        {Weight: 95, From: 1, To: 3},
			"sig_webshell":       {Weight: 95, From: 1, To: 3},
			"sig_sensitive_file": {Weight: 90, From: 1, To: 3},
			"sig_admin_probe":    {Weight: 30, From: 0, To: 3},
			"sig_cms_probe":      {Weight: 40, From: 0, To: 2},
			"sig_protocol":       {Weight: 50, From: 0, To: 2},
			"sig_proxy":          {Weight: 80, From: 1, To: 3},
			"sig_scanner_ua":     {Weight: 95, From: 0, To: 3},
			"sig_hits_10m":       {Weight: 90, From: 1, To: 8},
			// Informational: how much of the traffic is a page's scripts.
			"background_share_10m": {Weight: 0, From: 0, To: 0},
			// Where the traffic comes from: weak alone (people use VPNs and
			// travel; some customers are businesses on cloud desktops), they
			// add up with behaviour. A network all on hosting ASNs is servers.
			"net_hosting_share_10m": {Weight: 25, From: 0.5, To: 1},
			// -log10 of the share of the site's traffic: 2 = 1%, 4 = 0.01%.
			"country_rarity": {Weight: 15, From: 2, To: 4},
			"asn_rarity":     {Weight: 15, From: 2.5, To: 4.5},
		},
		StaticAssetExtensions: []string{
			".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif",
			".svg", ".ico", ".bmp", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3",
		},
		SensitivePaths: []string{
			"/.env", "/.git", "/.svn", "/.hg", "/.aws", "/.ssh", "/.htaccess", "/.htpasswd", "/.ds_store",
			"/wp-login.php", "/wp-admin", "/wp-config", "/xmlrpc.php", "/wp-content/plugins",
			"/phpmyadmin", "/pma", "/myadmin", "/admin.php", "/config.php", "/config.json", "/config.yml",
			"/server-status", "/server-info", "/actuator", "/cgi-bin", "/vendor/phpunit", "/boaform",
			"/etc/passwd", "/backup", "/db.sql", "/dump.sql", "/shell", "/solr/admin", "/console",
			"/_profiler", "/telescope", "/debug", "/.vscode", "/.idea", "/owa/", "/autodiscover",
		},
		LoginPaths: []string{
			"/login", "/signin", "/sign-in", "/sign_in", "/logon", "/auth", "/session",
			"/account/login", "/user/login", "/users/sign_in", "/customer/account/login",
			"/api/login", "/api/auth", "/api/session", "/oauth/token", "/my-account",
		},
		// Beacon endpoints that are never navigations (Cloudflare RUM, a
		// self-hosted GA4 collector, the usual RUM paths); list your own.
		BackgroundPaths: []string{"/cdn-cgi/rum", "/g/collect", "/rum", "/beacon"},
		CheckoutPaths: []string{
			"/cart", "/basket", "/checkout", "/order", "/payment",
			"/api/cart", "/api/basket", "/api/checkout", "/api/order",
		},
		ToolUAPatterns: []string{
			"curl/", "wget/", "python-requests", "python-urllib", "python-httpx", "aiohttp", "httpx/",
			"go-http-client", "java/", "okhttp", "apache-httpclient", "libwww-perl", "lwp::",
			"scrapy", "node-fetch", "axios/", "undici", "got (", "php/", "guzzlehttp", "ruby",
			"postmanruntime", "insomnia", "httpie", "masscan", "nmap", "zgrab", "nikto", "sqlmap",
			"nuclei", "gobuster", "dirbuster", "ffuf", "wpscan", "feroxbuster", "colly", "mechanize",
			"winhttp", "powershell", "reqwest", "hackney", "dart:io",
		},
		HeadlessUAPatterns: []string{
			"headlesschrome", "headless", "phantomjs", "puppeteer", "playwright", "selenium",
			"webdriver", "slimerjs", "htmlunit", "splash", "chrome-lighthouse", "cypress",
		},
		CrawlerUAPatterns: []string{
			"googlebot", "google-inspectiontool", "adsbot-google", "bingbot", "bingpreview",
			"yandexbot", "baiduspider", "duckduckbot", "slurp", "applebot", "petalbot", "seznambot",
			"facebookexternalhit", "twitterbot", "linkedinbot", "ahrefsbot", "semrushbot",
			"mj12bot", "dotbot", "gptbot", "ccbot", "claudebot", "bytespider", "amazonbot",
			"perplexitybot",
		},
	}
}

// Validate checks the weights and lists.
func (c Config) Validate() error {
	for _, name := range sortedKeys(c.Weights) {
		s := c.Weights[name]
		if !slices.Contains(FeatureNames, name) {
			return fmt.Errorf("features.weights: unknown feature %q (known: %s)", name, strings.Join(FeatureNames, ", "))
		}
		if s.Weight < 0 || s.Weight > 100 || math.IsNaN(s.Weight) {
			return fmt.Errorf("features.weights.%s.weight: %v is not within 0..100", name, s.Weight)
		}
		if math.IsNaN(s.From) || math.IsNaN(s.To) || math.IsInf(s.From, 0) || math.IsInf(s.To, 0) {
			return fmt.Errorf("features.weights.%s: from and to must be finite numbers", name)
		}
	}
	lists := []struct {
		name string
		l    []string
	}{
		{"static_asset_extensions", c.StaticAssetExtensions}, {"sensitive_paths", c.SensitivePaths},
		{"login_paths", c.LoginPaths}, {"checkout_paths", c.CheckoutPaths}, {"background_paths", c.BackgroundPaths},
		{"tool_ua_patterns", c.ToolUAPatterns}, {"headless_ua_patterns", c.HeadlessUAPatterns},
		{"crawler_ua_patterns", c.CrawlerUAPatterns},
	}
	for _, l := range lists {
		for i, v := range l.l {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("features.%s[%d]: empty entry", l.name, i)
			}
		}
	}
	for i, e := range c.StaticAssetExtensions {
		if !strings.HasPrefix(e, ".") {
			return fmt.Errorf("features.static_asset_extensions[%d]: %q must start with a dot", i, e)
		}
	}
	for _, l := range []struct {
		name string
		l    []string
	}{{"sensitive_paths", c.SensitivePaths}, {"login_paths", c.LoginPaths}, {"checkout_paths", c.CheckoutPaths}, {"background_paths", c.BackgroundPaths}} {
		for i, p := range l.l {
			if !strings.HasPrefix(p, "/") {
				return fmt.Errorf("features.%s[%d]: %q must start with /", l.name, i, p)
			}
		}
	}
	return nil
}

// ErrUnknownField is wrapped by decoding errors for a key the section does not have.
var ErrUnknownField = errors.New("unknown field")

var configFields = []string{
	"weights", "static_asset_extensions", "sensitive_paths", "login_paths", "checkout_paths", "background_paths",
	"tool_ua_patterns", "headless_ua_patterns", "crawler_ua_patterns",
}

var signalFields = []string{"weight", "from", "to"}

// UnmarshalYAML decodes the section over the defaults: a missing key keeps its
// default, lists replace, weights merge per feature. Unknown keys are errors
// naming their line, whatever decoder options the caller used (yaml.v3 does
// not pass KnownFields on to custom unmarshalers, so the keys are checked here).
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	def := DefaultConfig()
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		*c = def
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: features must be a mapping", n.Line)
	}
	if err := checkKeys(n, "features", configFields); err != nil {
		return err
	}
	// lists decode over the defaults: a present key replaces the list.
	lists := struct {
		StaticAssetExtensions *[]string `yaml:"static_asset_extensions"`
		SensitivePaths        *[]string `yaml:"sensitive_paths"`
		LoginPaths            *[]string `yaml:"login_paths"`
		CheckoutPaths         *[]string `yaml:"checkout_paths"`
		BackgroundPaths       *[]string `yaml:"background_paths"`
		ToolUAPatterns        *[]string `yaml:"tool_ua_patterns"`
		HeadlessUAPatterns    *[]string `yaml:"headless_ua_patterns"`
		CrawlerUAPatterns     *[]string `yaml:"crawler_ua_patterns"`
		Weights               yaml.Node `yaml:"weights"`
	}{
		StaticAssetExtensions: &def.StaticAssetExtensions, SensitivePaths: &def.SensitivePaths,
		LoginPaths: &def.LoginPaths, CheckoutPaths: &def.CheckoutPaths, BackgroundPaths: &def.BackgroundPaths,
		ToolUAPatterns: &def.ToolUAPatterns, HeadlessUAPatterns: &def.HeadlessUAPatterns,
		CrawlerUAPatterns: &def.CrawlerUAPatterns,
	}
	if err := n.Decode(&lists); err != nil {
		return fmt.Errorf("features: %w", err)
	}
	if w := &lists.Weights; w.Kind != 0 && !(w.Kind == yaml.ScalarNode && w.Tag == "!!null") {
		if w.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: features.weights must be a mapping of feature name to {weight, from, to}", w.Line)
		}
		for i := 0; i+1 < len(w.Content); i += 2 {
			k, v := w.Content[i], w.Content[i+1]
			sig, ok := def.Weights[k.Value]
			if !ok {
				return fmt.Errorf("line %d: %w %q in features.weights (known features: %s)", k.Line, ErrUnknownField, k.Value, strings.Join(FeatureNames, ", "))
			}
			if v.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: features.weights.%s must be a mapping with weight, from, to", v.Line, k.Value)
			}
			if err := checkKeys(v, "features.weights."+k.Value, signalFields); err != nil {
				return err
			}
			if err := v.Decode(&sig); err != nil {
				return fmt.Errorf("features.weights.%s: %w", k.Value, err)
			}
			def.Weights[k.Value] = sig
		}
	}
	*c = def
	return nil
}

func checkKeys(n *yaml.Node, where string, known []string) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(known, k.Value) {
			return fmt.Errorf("line %d: %w %q in %s (known: %s)", k.Line, ErrUnknownField, k.Value, where, strings.Join(known, ", "))
		}
	}
	return nil
}

// LoadRuleFileSection reads only the top-level `features:` key of the rule
// file at path (the rest belongs to the decider), over the defaults, and
// validates it. A file without the key gives DefaultConfig().
func LoadRuleFileSection(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read rule file: %w", err)
	}
	c, err := ParseRuleFileSection(b)
	if err != nil {
		return Config{}, fmt.Errorf("rule file %s: %w", path, err)
	}
	return c, nil
}

// ParseRuleFileSection is LoadRuleFileSection over the file's bytes.
func ParseRuleFileSection(b []byte) (Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Config{}, err
	}
	c := DefaultConfig()
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			return Config{}, fmt.Errorf("line %d: the rule file must be a mapping", root.Line)
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "features" {
				if err := root.Content[i+1].Decode(&c); err != nil {
					return Config{}, err
				}
			}
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Lists returns the pattern lists for the feature classifier.
func (c Config) Lists() features.Lists {
	return features.Lists{
		StaticAssetExtensions: c.StaticAssetExtensions,
		SensitivePaths:        c.SensitivePaths,
		LoginPaths:            c.LoginPaths,
		CheckoutPaths:         c.CheckoutPaths,
		BackgroundPaths:       c.BackgroundPaths,
		ToolUAPatterns:        c.ToolUAPatterns,
		HeadlessUAPatterns:    c.HeadlessUAPatterns,
		CrawlerUAPatterns:     c.CrawlerUAPatterns,
	}
}

func sortedKeys(m map[string]Signal) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
