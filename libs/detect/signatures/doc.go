// Package signatures recognises single requests that are attacks or probes:
// path traversal, injection markers, exploit paths of mass-scanned web CVEs,
// web-shell names, sensitive files, admin and CMS probing, auth endpoints
// (for brute-force counting), invalid methods and protocol versions,
// open-proxy attempts and scanner user agents. The aggregator evaluates a
// Set on every event; matches become features (one per category, valued by
// the highest severity seen in 10 minutes) and reasons (sig=<id>).
//
// # The signature file
//
// Signatures live in a versioned YAML file; the one Bulwark ships is
// default.yaml beside this file (`bulwark signatures default` prints it). An
// operator's file (BULWARK_SIGNATURES_FILE, `--signatures`) is read over it:
// a signature with an id of the default replaces it, `disabled: true`
// removes it, new ids are added. Every signature carries test strings that
// must and must not match; Load runs them, so a file whose signatures do
// not do what they say is refused (`bulwark signatures check`).
//
// Each signature:
//
//	id:          unique, [a-z0-9-]; shown in reasons as sig=<id>
//	category:    one of Categories (traversal, injection, exploit, webshell,
//	             sensitive_file, admin_probe, cms_probe, auth, protocol, proxy,
//	             scanner_ua)
//	severity:    low (probing), medium (an attack marker), high (an attack
//	             no browser ever sends: enough for a verdict alone)
//	reference:   where it comes from: a CVE id, a CWE, an advisory
//	description: what it catches
//	fields:      where to look: target (decoded path?query), raw (the target
//	             as logged, lower-cased, not decoded), ua, referer, method,
//	             protocol
//	literals:    strings (case-insensitive) of which one must occur in a field
//	anchor:      optional: start, end or exact (a literal must be there)
//	regex:       optional RE2, must also match the field; only evaluated
//	             after a literal matched, so literals are required with it
//	not_in:      instead of literals: the field (when not empty) must be
//	             none of these (unknown methods and protocol versions)
//	methods:     optional: only requests with these methods
//	match:       values of the first field that must match
//	no_match:    values of the first field that must not match
//
// # Matching
//
// Literals of all signatures are compiled into one Aho-Corasick automaton
// per field (github.com/petar-dambovaliev/aho-corasick, a port of the Rust
// aho-corasick crate, as a DFA), so the cost per request
// stays flat as the set grows; regular expressions only run on the few
// candidates a literal selected. The target is decoded before matching:
// percent-escapes (up to three rounds, for double and triple encoding),
// %uXXXX, the \xHH escapes logparse keeps for raw bytes, overlong UTF-8
// forms of '.', '/' and '\', '+' as space in the query, and '\' as '/'.
package signatures
