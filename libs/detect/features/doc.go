// Package features computes, per subject and in event time, the behaviour
// features that the scorer (libs/detect/scoring) weighs. This file is the one place
// where every feature is documented.
//
// Subjects: ip: (the client IP), session: (the log's session id, or a hash of
// IP + user agent (+ accept-language where logged) when the log has none, see
// aggregator.SessionID) and net: (the IPv4 /24 or IPv6 /64). ip: and session:
// subjects keep a Behaviour; ip: subjects also an IPExtra; net: subjects a Net.
// Windows slide with event time (libs/detect/window): "10s" is ten 1-second buckets,
// "1m" six 10-second buckets, "10m" ten 1-minute buckets, "1h" six 10-minute
// buckets; distinct counts ("10m") cover the current and the previous 5-minute
// half. A feature is absent (not 0) when it does not apply to the subject or
// when its sample is too small to mean anything (noted as "needs").
//
//	feature                            subjects      what                                                         why it separates bots from people
//	rate_10s                           ip session    requests/s over 10 s                                         people read pages; floods and scrapers do not pause
//	rate_1m                            ip session    requests/s over 1 min                                        the same, robust to one page's burst of assets
//	rate_10m                           ip session net requests/s over 10 min                                      sustained volume no person produces
//	rate_1h                            ip session    requests/s over 1 h                                          slow scrapers stay under short-window limits for hours
//	burst_10s                          ip session    most requests in one second of the last 10 s                 tools fire in parallel; a page's assets rarely exceed ~40/s
//	iat_cv_1m                          ip session    coefficient of variation (stddev/mean) of the time between   scripts sleep a fixed interval (CV near 0); people are bursty
//	                                                 requests, exponentially weighted over the last ~15 requests  (a page and its assets, then reading: CV near or above 1).
//	                                                 (about a minute of a slow client); needs 8 requests in 1 min
//	no_asset_share_10m                 ip session    1 - min(assets, pages)/pages over 10 min: the share of page   browsers fetch CSS/JS/images/fonts with pages; HTTP clients and
//	                                                 requests not accompanied by a static asset; needs 5 pages    scrapers fetch only the HTML. (If assets are served from another
//	                                                                                                              host whose logs are not shipped, lower its weight.)
//	pages_10m                          ip session    page (non-asset) requests in 10 min                           a person views tens of pages in 10 minutes, a crawler thousands
//	path_diversity_10m                 ip session    distinct page paths / pages over 10 min; needs 20 pages       crawlers never revisit; people go back to lists and carts
//	enum_10m                           ip session    steps between pages whose trailing numeric ids differ by 1..3 scrapers walk /product/1001, /1002, ... and page=57 of a list;
//	                                                 (/product/1001 -> /product/1002), plus deep pagination       people jump between unrelated ids and stop after a few pages
//	                                                 (page/p >= 20, offset/start >= 500), in 10 min
//	status_404_share_10m               ip session    share of 404 responses over 10 min; needs 10 requests         probes guess paths that do not exist; people follow links
//	login_failures_1m, _10m            ip session    401/403 answers on login paths in 1 and 10 min               credential stuffing tries many passwords; people fail once or twice
//	status_429_10m                     ip session    429 answers in 10 min                                         a client that keeps going after being rate-limited is automated
//	sensitive_hits_10m                 ip session    requests to sensitive paths (/.env, /wp-login.php, ...) in   no visitor of a shop asks for /.git/config; scanners ask for all
//	                                                 10 min
//	post_sensitive_1m                  ip session    POSTs to login, cart and checkout paths in 1 min              checkout bots and stuffers POST in loops; a buyer POSTs a few times
//	ua_tool                            ip session    1 if the user agent is an HTTP library or scanner            curl, python-requests, sqlmap are not browsers
//	ua_headless                        ip session    1 if the user agent names a headless/automated browser       HeadlessChrome, PhantomJS, Selenium drive browsers without a person
//	ua_empty                           ip session    1 if there is no user agent                                   every browser sends one
//	ua_malformed                       ip session    1 if the user agent has control characters, no product/      hand-made or garbled headers; browsers send well-formed ones
//	                                                 version token, or "Mozilla/" without its platform comment
//	ua_crawler_claimed                 ip session    1 if the user agent claims to be a search or SEO crawler      declared bots; the decider checks whether the claim is true
//	ua_count_10m                       ip            distinct user agents of the IP over 10 min                    UA rotation to dodge per-UA limits; scored only in proportion to
//	                                                                                                              no_asset_share_10m, since a NAT of people also has many UAs
//	referer_missing_share_10m          ip session    share of pages without a Referer; needs 5 pages               browsers send a referer when following links; scripts usually not
//	accept_language_missing_share_10m  ip session    share of requests without Accept-Language, among requests    browsers always send it; only when the source logs the header
//	                                                 whose source logs it; needs 10 such requests
//	net_ips_10m                        net           distinct client IPs of the network over 10 min                informational: how many clients the network has now
//	net_alike_ips_10m                  net           distinct IPs of the network that look alike: pages and no    rented proxy pools spread one scraper over many IPs of a /24, each
//	                                                 static asset in 10 min, or a tool/headless user agent        too quiet alone; many asset-less IPs of one network is the pattern
//	ip_sessions_10m                    ip            distinct sessions of the IP over 10 min                       a NAT of many people carries many sessions, one fast client one:
//	                                                                                                              the scorer divides the IP's volume features by this crowd
//	cdn_bot_score                      ip session    the CDN's bot score of the latest request (1 = bot .. 99)     the CDN sees TLS and JS signals the logs do not carry
//	malformed_request                  ip session    requests in 10 min whose request line, User-Agent or Referer  browsers send well-formed UTF-8; raw bytes, NULs, TLS handshakes on
//	                                                 held invalid UTF-8/NUL/control bytes or whose request line   the plain port and garbled request lines are worm payloads, exploit
//	                                                 was not "METHOD target" (logparse marks them; absent when 0)  attempts and scanners (an escaped \xHH byte is still scored)
//
//	sig_traversal, sig_injection,      ip session    the highest severity (1 low, 2 medium, 3 high) of the        one request that no browser sends (an exploit path, a traversal,
//	sig_exploit, sig_webshell,                       signatures (libs/detect/signatures) matched in this category in     Log4Shell, a web shell, /.env, CONNECT, sqlmap) is an attack
//	sig_sensitive_file,                              10 min; absent when none. auth-endpoint matches feed         whatever the rate; low-severity probing (admin consoles, CMS
//	sig_admin_probe, sig_cms_probe,                  login_failures_* instead: a POST there answered 200, 401     fingerprints) only adds up with other signals, since a site's own
//	sig_protocol, sig_proxy,                         or 403 is a failed login, whatever the application           admins load such pages
//	sig_scanner_ua
//	sig_hits_10m                       ip session    requests matching a medium or high signature in 10 min       scanners try dozens of exploits a minute; a person none
//	background_share_10m               ip session    share of requests in 10 min that are a page script's own      informational (weight 0): beacons, polls and live search of people's
//	                                                 (background_paths, or the client's most repeated non-asset   pages; they are left out of iat_cv_1m (navigations only, and only
//	                                                 path from a client that has loaded assets); needs 10         with a navigation in the last minute), pages_10m, no_asset_share_10m,
//	                                                 requests                                                      referer_missing_share_10m and path_diversity_10m
//	net_hosting_share_10m              net           share of the network's requests in 10 min from a hosting or   people browse from homes and phones; scrapers and proxy pools rent
//	                                                 cloud AS number (data/hosting-asns.txt, or the operator's    servers. Weak alone (VPNs, cloud desktops): it adds to behaviour.
//	                                                 list), among requests whose AS number is known; needs 5      Needs the shipper's GeoIP ASN database or a CDN that logs the ASN
//	country_rarity                     ip session    -log10 of the share of the site's recent requests (halved     a shop's customers come from where it sells; a client from a country
//	                                                 every 6 h of event time) from the subject's country: 2 = 1%, that sends one request in ten thousand is unusual for this site,
//	                                                 4 = 0.01%; needs 1000 site requests with a country (per       not in general. Weak alone: travellers and new markets exist
//	                                                 aggregator partition: a sample of the site, by client IP)
//	asn_rarity                         ip session    the same for the subject's AS number, counted in a           the same for networks: the site's people come from a few consumer
//	                                                 count-min sketch (bounded memory; never rarer than true)     ISPs; a lone server network or bulletproof host stands out
//
// Counters saturate (uint16 per bucket for requests, uint8 for rare events)
// rather than wrap; a subject past saturation is far beyond every threshold.
package features
