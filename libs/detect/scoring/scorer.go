package scoring

import (
	"math"
	"strconv"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// Name is the scorer's name in Score.scorer.
const Name = "weighted/v1"

// MaxReasons is how many reasons a score carries at most.
const MaxReasons = 5

// minReasonPoints: a signal worth fewer points is not named as a reason.
const minReasonPoints = 5

// Scorer is the transparent weighted scorer: every feature's signal
// (Config.Weights) adds independent evidence, combined as noisy-OR, so a
// person can see from the reasons why a score is what it is.
//
// Two adjustments make ip: subjects fair to networks of people:
//   - volume features (rates, bursts, pages, login failures, checkout POSTs,
//     429s, enumeration) are divided by the IP's crowd, the number of its
//     sessions that behave like browsers: crowd = 1 + (ip_sessions_10m-1) *
//     (1 - no_asset_share_10m). Fifty people behind an office NAT, each
//     loading pages with their assets, are fifty times one person's volume;
//     one client rotating user agents without loading assets stays a crowd of one.
//   - ua_count_10m counts in proportion to no_asset_share_10m: many user
//     agents is normal for a NAT and suspicious only without assets.
//
// net: subjects are scored on net_alike_ips_10m alone: their volume is the sum
// of many clients and says nothing by itself, while many IPs of one network
// each fetching pages without assets is a rented proxy pool.
type Scorer struct {
	sig [features.NumFeatures]Signal
}

// NewScorer builds the scorer for c (which must be valid).
func NewScorer(c Config) *Scorer {
	s := &Scorer{}
	for name, sig := range c.Weights {
		if id, ok := features.Lookup(name); ok {
			s.sig[id] = sig
		}
	}
	return s
}

var volume = [features.NumFeatures]bool{
	features.Rate10s: true, features.Rate1m: true, features.Rate10m: true, features.Rate1h: true,
	features.Burst10s: true, features.Pages10m: true, features.LoginFailures1m: true,
	features.LoginFailures10m: true, features.PostSensitive1m: true, features.Status429_10m: true,
	features.Enum10m: true,
}

// Points are the contributions of each feature, in score points.
type Points [features.NumFeatures]float64

// Score returns the score 0..100 (rounded to 0.1) of a subject of kind k with
// features v, and fills p with each feature's contribution.
func (s *Scorer) Score(k subject.Kind, v *features.Vector, p *Points) float64 {
	*p = Points{}
	crowd := 1.0
	assetless := 1.0
	if share, ok := v.Get(features.NoAssetShare10m); ok {
		assetless = share
		if k == subject.KindIP {
			if n, ok := v.Get(features.IPSessions10m); ok && n > 1 {
				crowd = 1 + (n-1)*(1-share)
			}
		}
	}
	keep := 1.0
	for id := range features.NumFeatures {
		val, ok := v.Get(id)
		if !ok {
			continue
		}
		if k == subject.KindNet && id != features.NetAlikeIPs10m && id != features.NetIPs10m && id != features.NetHostingShare10m {
			continue
		}
		sig := s.sig[id]
		if sig.Weight == 0 {
			continue
		}
		if k == subject.KindIP && volume[id] {
			val /= crowd
		}
		str := sig.Strength(val)
		if id == features.UACount10m {
			str *= assetless
		}
		pts := sig.Weight * str
		p[id] = pts
		keep *= 1 - pts/100
	}
	return math.Round((1-keep)*1000) / 10
}

// Reasons appends the strongest reasons (at most MaxReasons, strongest first)
// to dst, in words: "rate_10s=48/s", "no_static_assets", "tool_ua".
func (p *Points) Reasons(v *features.Vector, dst []string) []string {
	var used uint64
	for range MaxReasons {
		best, top := float64(minReasonPoints), -1
		for id, pts := range p {
			if used&(1<<id) == 0 && pts >= best && (top < 0 || pts > best) {
				best, top = pts, id
			}
		}
		if top < 0 {
			break
		}
		used |= 1 << top
		dst = append(dst, Reason(features.ID(top), v.V[top]))
	}
	return dst
}

// Reason spells one feature as a reason.
func Reason(id features.ID, v float64) string {
	switch id {
	case features.NoAssetShare10m:
		if v >= 0.99 {
			return "no_static_assets"
		}
	case features.UATool:
		return "tool_ua"
	case features.UAHeadless:
		return "headless_ua"
	case features.UAEmpty:
		return "empty_ua"
	case features.UAMalformed:
		return "malformed_ua"
	case features.UACrawlerClaimed:
		return "claims_crawler"
	case features.MalformedRequest:
		if v <= 1 {
			return "malformed_request"
		}
	case features.SigTraversal, features.SigInjection, features.SigExploit, features.SigWebshell,
		features.SigSensitiveFile, features.SigAdminProbe, features.SigCMSProbe, features.SigProtocol,
		features.SigProxy, features.SigScannerUA:
		switch {
		case v >= 3:
			return id.String() + "=high"
		case v >= 2:
			return id.String() + "=medium"
		}
		return id.String() + "=low"
	case features.Rate10s, features.Rate1m, features.Rate10m, features.Rate1h:
		return id.String() + "=" + num(v) + "/s"
	case features.NetHostingShare10m:
		if v >= 0.99 {
			return "hosting_network"
		}
	}
	return id.String() + "=" + num(v)
}

func num(v float64) string {
	switch {
	case v >= 10 || v == math.Trunc(v):
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case v >= 1:
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
