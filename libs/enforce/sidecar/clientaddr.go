package sidecar

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
)

// ErrBadClientIP is returned (wrapped) when a trusted proxy sends a client
// address header that holds no address.
var ErrBadClientIP = errors.New("malformed client address header")

// clientAddr decides who the client is: the socket peer, unless the peer is
// a trusted proxy that sent the client address header, in which case the
// header counts (an X-Forwarded-For style list is walked from the right,
// skipping trusted hops, see libs/ingest/clientip). A trusted proxy that sends no
// header leaves the peer as the client; one that sends garbage is an error,
// so a misconfigured proxy shows up in the bad-request metric instead of
// silently making every client look like the proxy.
func clientAddr(res *clientip.Resolver, peer netip.Addr, header string) (netip.Addr, error) {
	peer = peer.Unmap()
	if header == "" || !res.Trusted(peer) && peer.IsValid() {
		return peer, nil
	}
	i := strings.LastIndexByte(header, ',')
	hop, ok := clientip.ParseHop(strings.TrimSpace(header[i+1:]))
	if !ok {
		return netip.Addr{}, ErrBadClientIP
	}
	if i < 0 {
		// One hop (X-Real-IP): the walk would stop at it either way.
		return hop, nil
	}
	a := res.FromXFFString(peer, header)
	if !a.IsValid() {
		return netip.Addr{}, ErrBadClientIP
	}
	return a, nil
}
