package aggregator

import (
	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/detect/scoring"
	"github.com/bulwarkhq/bulwark/libs/detect/signatures"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// matchSignatures runs the signature set in force on ev and records the
// matches in o: per category the severity bits, the strongest signature
// for the reasons, and for auth endpoints the login flags (a POST answered
// 200 without a redirect is a failed login, whatever the application).
func (e *Engine) matchSignatures(ev *eventpb.RequestEvent, o *features.Obs) {
	if e.sigs == nil {
		return
	}
	set := e.sigs.Load()
	if e.sigMatcher == nil || e.sigMatcher.Set() != set {
		e.sigMatcher = set.NewMatcher()
		for _, s := range set.Sigs {
			e.sigNames[s.Hash] = s.ID
		}
	}
	hits := e.sigMatcher.Match(signatures.Request{
		Method: ev.GetMethod(), Path: ev.GetPath(), Query: ev.GetQuery(), Protocol: ev.GetProtocol(),
		UserAgent: ev.GetUserAgent(), Referer: ev.GetReferer(),
	})
	for _, i := range hits {
		sig := &set.Sigs[i]
		if sig.Category == signatures.CategoryAuth {
			o.Flags |= features.ReqLogin
			if o.Flags&features.ReqPost != 0 && (o.Status == 200 || o.Status == 401 || o.Status == 403) {
				o.Flags |= features.ReqLoginFailed
			}
			continue
		}
		if o.Sig == 0 {
			e.stats.SigMatches++
		}
		o.Sig |= features.SigBits(sig.Cat, sig.Severity)
		// On a tie the CVE-specific signature names the reason, not the
		// generic traversal or injection one that also matched.
		if sig.Severity > o.SigSev || sig.Severity == o.SigSev && sig.Category == "exploit" {
			o.SigID, o.SigSev = sig.Hash, sig.Severity
		}
	}
}

// sigName spells a remembered signature as a reason; "" for none.
func (e *Engine) sigName(h uint32) string {
	if h == 0 {
		return ""
	}
	if id, ok := e.sigNames[h]; ok {
		return "sig=" + id
	}
	return ""
}

// reasons are the scorer's reasons, led by the signature that matched when
// signature features count in the score: "sig=cve-2021-41773" says more
// than "sig_exploit=high".
func (e *Engine) reasons() []string {
	if e.sigReason == "" {
		return e.points.Reasons(&e.vector, nil)
	}
	sigPts := 0.0
	for id := features.SigTraversal; id <= features.SigHits10m; id++ {
		sigPts += e.points[id]
	}
	if sigPts < 5 {
		return e.points.Reasons(&e.vector, nil)
	}
	r := e.points.Reasons(&e.vector, []string{e.sigReason})
	if len(r) > scoring.MaxReasons {
		r = r[:scoring.MaxReasons]
	}
	return r
}
