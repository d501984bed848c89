package scoring

import (
	"slices"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

func TestScorer(t *testing.T) {
	s := NewScorer(DefaultConfig())
	f := func(name string, kind subject.Kind, set map[features.ID]float64, lo, hi float64, reasons ...string) {
		t.Helper()
		var v features.Vector
		for id, x := range set {
			v.Set(id, x)
		}
		var p Points
		got := s.Score(kind, &v, &p)
		if got < lo || got > hi {
			t.Errorf("%s: score %v, want %v..%v", name, got, lo, hi)
		}
		if r := p.Reasons(&v, nil); len(reasons) > 0 && !slices.Equal(r, reasons) {
			t.Errorf("%s: reasons %v, want %v", name, r, reasons)
		}
	}
	f("nothing", subject.KindIP, nil, 0, 0)
	f("fast client", subject.KindIP, map[features.ID]float64{features.Rate10s: 48, features.NoAssetShare10m: 1, features.IPSessions10m: 1}, 95, 100, "rate_10s=48/s", "no_static_assets")
	f("NAT: same rate over 60 browsing sessions", subject.KindIP, map[features.ID]float64{features.Rate10s: 48, features.NoAssetShare10m: 0.1, features.IPSessions10m: 60}, 0, 10)
	f("UA rotation without assets is not a crowd", subject.KindIP, map[features.ID]float64{features.Rate10s: 30, features.NoAssetShare10m: 1, features.IPSessions10m: 60, features.UACount10m: 60}, 95, 100)
	f("tool UA alone", subject.KindSession, map[features.ID]float64{features.UATool: 1}, 75, 75, "tool_ua")
	f("net is scored on alike IPs only", subject.KindNet, map[features.ID]float64{features.Rate10m: 500, features.NetAlikeIPs10m: 0}, 0, 0)
	f("proxy pool", subject.KindNet, map[features.ID]float64{features.NetAlikeIPs10m: 25, features.NetIPs10m: 25}, 95, 95, "net_alike_ips_10m=25")
	f("weak signals stay low", subject.KindSession, map[features.ID]float64{features.RefererMissingShare10m: 1}, 20, 20)
}

func TestReason(t *testing.T) {
	f := func(id features.ID, v float64, want string) {
		t.Helper()
		if got := Reason(id, v); got != want {
			t.Errorf("Reason(%s, %v) = %q, want %q", id, v, got, want)
		}
	}
	f(features.Rate10s, 48.2, "rate_10s=48/s")
	f(features.Rate1m, 2.345, "rate_1m=2.3/s")
	f(features.LoginFailures1m, 23, "login_failures_1m=23")
	f(features.NoAssetShare10m, 1, "no_static_assets")
	f(features.NoAssetShare10m, 0.9, "no_asset_share_10m=0.9")
	f(features.IATCV1m, 0.053, "iat_cv_1m=0.05")
	f(features.UATool, 1, "tool_ua")
}
