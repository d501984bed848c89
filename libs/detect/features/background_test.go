package features

import (
	"testing"

	"github.com/cespare/xxhash/v2"
)

// A person reading one page for 10 minutes while its script posts every
// 2 s is not a regular, asset-less client; a script polling the same
// endpoint without ever loading a page is.
func TestBackgroundRequests(t *testing.T) {
	const t0 = int64(1_800_000_000) * sec
	obs := func(at int64, path string, f ReqFlags) *Obs {
		return &Obs{T: at, Flags: f, Status: 200, PathHash: xxhash.Sum64String(path), UAHash: 7, UA: uaFlagKnown}
	}
	run := func(withPage bool) Vector {
		var b Behaviour
		at := t0
		if withPage {
			b.Update(obs(at, "/product/1", 0))
			for i := range 6 {
				b.Update(obs(at+int64(i+1)*100_000_000, "/static/app.js", ReqAsset))
			}
		}
		for i := range 300 { // 10 minutes, every 2 s
			b.Update(obs(at+sec+int64(i)*2*sec, "/api/telemetry", ReqPost))
		}
		var v Vector
		b.Compute(b.Last, &v)
		return v
	}
	person, script := run(true), run(false)
	if pages, _ := person.Get(Pages10m); pages > 10 { // the page and the first beacons, until the vote is clear
		t.Errorf("person: %v pages, want the telemetry left out", pages)
	}
	if share, ok := person.Get(BackgroundShare10m); !ok || share < 0.9 {
		t.Errorf("person: background share %v %v, want > 0.9", share, ok)
	}
	if _, ok := person.Get(IATCV1m); ok {
		t.Errorf("person: timing regularity computed over beacons")
	}
	if pages, _ := script.Get(Pages10m); pages < 250 {
		t.Errorf("script: %v pages, want its polls counted", pages)
	}
	if cv, ok := script.Get(IATCV1m); !ok || cv > 0.1 {
		t.Errorf("script: iat_cv_1m %v %v, want regular", cv, ok)
	}
	if share, _ := script.Get(NoAssetShare10m); share < 0.99 {
		t.Errorf("script: no_asset_share_10m %v", share)
	}
	// A listed background path is background from the first request.
	var b Behaviour
	b.Update(obs(t0, "/cdn-cgi/rum", ReqPost|ReqBackground))
	var v Vector
	b.Compute(b.Last, &v)
	if pages, _ := v.Get(Pages10m); pages != 0 {
		t.Errorf("listed background path counted as a page")
	}
}

func TestFetchFlags(t *testing.T) {
	f := func(mode, dest string, want ReqFlags) {
		t.Helper()
		if got := FetchFlags(mode, dest); got != want {
			t.Fatalf("FetchFlags(%q, %q) = %v, want %v", mode, dest, got, want)
		}
	}
	f("", "", 0)
	f("navigate", "document", ReqNavigate)
	f("navigate", "iframe", ReqNavigate)
	f("cors", "empty", ReqBackground)
	f("no-cors", "empty", ReqBackground)
	f("same-origin", "", ReqBackground)
	f("no-cors", "image", 0) // an asset, told apart by its extension
	f("cors", "script", 0)
}
