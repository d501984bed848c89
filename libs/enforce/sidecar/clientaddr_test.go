package sidecar

import (
	"net/netip"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
)

func FuzzClientAddr(f *testing.F) {
	proxies, _ := clientip.ParseCIDRs("127.0.0.0/8,::1,10.0.0.0/8")
	res := clientip.New(proxies)
	f.Add("127.0.0.1", "203.0.113.7")
	f.Add("10.0.0.1", "192.0.2.1, 10.0.0.2")
	f.Add("192.0.2.1", "203.0.113.7")
	f.Add("::1", "[2001:db8::1]:443")
	f.Add("", "unknown")
	f.Add("127.0.0.1", "")
	f.Fuzz(func(t *testing.T, peer, header string) {
		p, _ := netip.ParseAddr(peer)
		a, err := clientAddr(res, p, header)
		if err != nil {
			return
		}
		if p.IsValid() && !res.Trusted(p) && a != p.Unmap() {
			t.Fatalf("untrusted peer %s with %q gave %s", p, header, a)
		}
		if header == "" && a != p.Unmap() {
			t.Fatalf("no header: %s, want the peer %s", a, p)
		}
	})
}
