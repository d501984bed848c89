package verdicttable_test

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

const (
	fpBenchIPs = 100_000 // ip: verdicts held besides the fingerprints'
	fpBenchFPs = 8       // fp: verdicts, each listing subject.MaxFPAddresses
)

// fpBenchTable holds fpBenchIPs ip: verdicts and, with fps, fpBenchFPs
// fp: verdicts of subject.MaxFPAddresses addresses each (a large campaign:
// 8,192 addresses), half of them also in the ip: verdicts.
func fpBenchTable(b *testing.B, fps bool) (*verdicttable.Table, []netip.Addr) {
	b.Helper()
	tab := verdicttable.New()
	probe := make([]netip.Addr, 0, 4096)
	for i := range fpBenchIPs {
		_, v := benchVerdict(i)
		if err := tab.Apply(subject.IP(benchIP(i)), v); err != nil {
			b.Fatal(err)
		}
	}
	for f := range fpBenchFPs {
		addrs := make([]string, subject.MaxFPAddresses)
		for j := range addrs {
			addrs[j] = benchIP(f*subject.MaxFPAddresses/2 + j*7).String()
		}
		if fps {
			if err := tab.Apply(subject.FP(uint64(f)+1), fpBenchVerdict(addrs)); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Lookups: a quarter listed by a fingerprint, the rest other clients
	// with or without their own verdict.
	for i := range cap(probe) {
		if i%4 == 0 {
			probe = append(probe, benchIP((i%fpBenchFPs)*subject.MaxFPAddresses/2+(i%subject.MaxFPAddresses)*7))
		} else {
			probe = append(probe, benchIP(i*37))
		}
	}
	return tab, probe
}

func fpBenchVerdict(addrs []string) *eventpb.Verdict {
	return &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 92, Rule: "ladder",
		Reasons:           []string{"score=92", "attack=login-failures-2026-12-03T10:14Z", "fp_failing_addresses=1024", "class=login"},
		ExpiresAtUnixNano: time.Now().Add(time.Hour).UnixNano(), Addresses: addrs}
}

// BenchmarkLookupFingerprints is the sidecar's lookup with eight campaign
// fingerprints held (8,192 listed addresses) against the same table
// without them, in the same run.
func BenchmarkLookupFingerprints(b *testing.B) {
	// Both tables are built first and the garbage collected before each
	// run: otherwise the collection of the first table's loading garbage
	// runs during the second benchmark and doubles its time on 2 cores.
	base, probe := fpBenchTable(b, false)
	with, _ := fpBenchTable(b, true)
	for _, bc := range []struct {
		name string
		tab  *verdicttable.Table
	}{{"baseline_no_fp", base}, {"with_8_fp_x_1024", with}} {
		tab := bc.tab
		now := time.Now()
		runtime.GC()
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tab.Lookup(probe[i&(len(probe)-1)], "", now)
				i++
			}
		})
	}
}

// BenchmarkApplyFingerprint is the cost of one fp: verdict record of 1,024
// addresses reaching a sidecar that holds eight (the index is rebuilt
// whole), against one ip: verdict record, in the same run.
func BenchmarkApplyFingerprint(b *testing.B) {
	tab, _ := fpBenchTable(b, true)
	runtime.GC()
	addrs := make([]string, subject.MaxFPAddresses)
	for j := range addrs {
		addrs[j] = benchIP(j * 11).String()
	}
	v := fpBenchVerdict(addrs)
	b.Run("baseline_ip_verdict", func(b *testing.B) {
		b.ReportAllocs()
		_, iv := benchVerdict(1)
		for b.Loop() {
			if err := tab.Apply("ip:203.0.113.7", iv); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fp_verdict_1024", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := tab.Apply(subject.FP(1), v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
