// Package attacks watches the whole site, not one client: per endpoint class
// (login, signup, search, cart/checkout, API, pages) it keeps baselines in
// event time of the request rate, the failure ratio (401/403 and app-level
// login failures), the share of new clients and the share of clients that
// never loaded a page, and raises an attack when the current five minutes
// stand out from the class's own baseline.
//
// The baseline is robust and seasonal: the median and the median absolute
// deviation of the same five-minute measure over the last hour, the same
// time yesterday and the same time last week (where that history exists),
// with minutes spent under attack left out so that an attack never becomes
// the new normal. Medians and MADs, not means: one busy minute from a
// newsletter must not move what normal is.
//
// An attack has a name that says what and since when
// (login-failures-2026-12-03T10:14Z), how strong it is (a robust z-score,
// the observed value and the expected one) and, where the clients causing it
// share a fingerprint much more than normal traffic does, that fingerprint.
// Only attacks with such a fingerprint enforce anything (attack mode, see
// Mode): failures spread over every kind of browser look like an outage of
// the site's own login (an SSO outage), and people must keep logging in. A
// surge of requests at a normal failure ratio (a flash sale, a newsletter)
// is recorded, never enforced.
//
// A Detector is not safe for concurrent use, and given the same events it
// records the same attacks. In the aggregator each partition's engine only
// counts its share (NewCounter) and every aggregator folds all partitions'
// counts into one site-wide Detector (Fold, fold.go); with site-wide mode
// off, and in replay, each partition's Detector judges its own share.
package attacks
