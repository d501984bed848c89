package clientip_test

import (
	"fmt"
	"net/netip"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
)

func Example() {
	trusted, err := clientip.ParseCIDRs("10.0.0.0/8, ::1")
	if err != nil {
		panic(err)
	}
	r := clientip.New(trusted)

	// A load balancer at 10.0.0.5 forwards for 198.51.100.7, which claims to
	// be forwarding for 1.1.1.1: that claim comes from an untrusted hop.
	lb := netip.MustParseAddr("10.0.0.5")
	fmt.Println(r.FromXFF(lb, []byte("1.1.1.1, 198.51.100.7")))

	// A client connecting directly cannot choose its address with a header.
	direct := netip.MustParseAddr("203.0.113.9")
	fmt.Println(r.FromXFF(direct, []byte("10.0.0.1")))
	// Output:
	// 198.51.100.7
	// 203.0.113.9
}
