// Command benchload writes a verdict snapshot holding n synthetic verdicts,
// for scripts/bench/sidecar.sh: bulwark-sidecar loads it at start
// (BULWARK_SIDECAR_SNAPSHOT_FILE) and serves /v1/authz with a full table.
//
// Verdict i is for IPv4 address uint32(i)*2654435761 (a bijection, so the
// benchmark's wrk script can ask for present and absent clients), except
// every 100th, a /24 network, and 5% IPv6 and 4% sessions, as in
// verdicttable's benchmarks.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

func main() {
	out := flag.String("out", "", "snapshot file to write")
	n := flag.Int("n", 1_000_000, "verdicts")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "benchload: -out is required")
		os.Exit(2)
	}
	t := verdicttable.New()
	now := time.Now()
	for i := range *n {
		k, v := synthetic(i, now)
		if err := t.Apply(k, v); err != nil {
			fmt.Fprintln(os.Stderr, "benchload:", err)
			os.Exit(1)
		}
	}
	written, err := t.SaveSnapshotFile(*out, now)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchload:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d verdicts to %s\n", written, *out)
}

func synthetic(i int, now time.Time) (string, *eventpb.Verdict) {
	at := now.UnixNano()
	v := &eventpb.Verdict{Action: eventpb.Action(2 + i%3), Score: float64(i%1000) / 10,
		Reasons: []string{"rate_10s=" + strconv.Itoa(i%97) + "/s", "no_static_assets"}, Rule: "ladder",
		AtUnixNano: at, ExpiresAtUnixNano: at + int64(24*time.Hour)}
	var b4 [4]byte
	binary.BigEndian.PutUint32(b4[:], uint32(i)*2654435761)
	ip := netip.AddrFrom4(b4)
	switch {
	case i%100 == 0:
		return subject.Net(netip.PrefixFrom(ip, 24).Masked()), v
	case i%100 < 5:
		return "session:" + strconv.FormatUint(uint64(i)*0x9e3779b97f4a7c15, 36), v
	case i%100 < 10:
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		binary.BigEndian.PutUint64(b[8:], uint64(i)*0x9e3779b97f4a7c15)
		return subject.IP(netip.AddrFrom16(b)), v
	}
	return subject.IP(ip), v
}
