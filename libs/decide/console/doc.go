// Package console is Bulwark's operator console (bulwark-console, and
// `bulwark dev` on BULWARK_CONSOLE_ADDR): one place where an on-call
// engineer looks a client up, sees why it was treated as it was, acts on it
// (block, challenge, allow, unblock, label) and sees the overview.
//
// It lives in libs/decide because everything it writes is an input of the
// decide stage: operator verdicts go through package overrides (the same
// guards as `bulwark block`), labels through package feedback (the same
// record as `bulwark label`). What it reads it reads like the other
// readers do: the verdict topic into its own verdicttable (as the sidecar
// does, so it needs no list of sidecars and shows what every replica
// serves once caught up), the feedback topic, and recent requests from
// ClickHouse when BULWARK_CLICKHOUSE_ADDR is set, else from the requests
// topic.
//
// Security: no default password. Start-up fails unless
// BULWARK_CONSOLE_TOKEN or the OIDC settings are given. Static tokens are
// accepted as "Authorization: Bearer TOKEN" or through the login form,
// which sets a signed session cookie (HttpOnly, SameSite=Strict, Secure
// under TLS). Roles are viewer < operator < admin; every POST carries a
// CSRF token bound to the session; every page is served with a strict
// Content-Security-Policy (no inline script, no external origin). Every
// action, and every refused attempt to act, is a record on the audit topic
// (bulwark.audit.v1), which bulwark-chsink writes to ClickHouse's audit
// table.
package console
