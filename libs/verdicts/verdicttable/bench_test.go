package verdicttable_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
	"github.com/bulwarkhq/bulwark/libs/platform/subject"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdicttable"
)

// benchVerdicts is how many verdicts the benchmarks load (default 1,000,000;
// BULWARK_BENCH_VERDICTS overrides it for a quick run).
func benchVerdicts() int {
	if n, err := strconv.Atoi(os.Getenv("BULWARK_BENCH_VERDICTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// benchVerdict is verdict i of a loaded table: 90% IPv4, 5% IPv6, 4%
// sessions, 1% networks, shaped like the decider's.
func benchVerdict(i int) (string, *eventpb.Verdict) {
	at := time.Now().UnixNano()
	v := &eventpb.Verdict{Action: eventpb.Action(2 + i%3), Score: float64(i%1000) / 10,
		Reasons: []string{"rate_10s=" + strconv.Itoa(i%97) + "/s", "no_static_assets"}, Rule: "ladder",
		AtUnixNano: at, ExpiresAtUnixNano: at + int64(time.Hour)}
	switch {
	case i%100 == 0:
		return subject.Net(netip.PrefixFrom(benchIP(i), 24).Masked()), v
	case i%100 < 5:
		return "session:" + strconv.FormatUint(uint64(i)*0x9e3779b97f4a7c15, 36), v
	case i%100 < 10:
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		binary.BigEndian.PutUint64(b[8:], uint64(i)*0x9e3779b97f4a7c15)
		return subject.IP(netip.AddrFrom16(b)), v
	}
	return subject.IP(benchIP(i)), v
}

// benchIP spreads i over the IPv4 space (a bijection, so no collisions).
func benchIP(i int) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(i)*2654435761)
	return netip.AddrFrom4(b)
}

var (
	benchOnce  sync.Once
	benchTable *verdicttable.Table
)

func loadedTable(b *testing.B) *verdicttable.Table {
	benchOnce.Do(func() {
		benchTable = verdicttable.New()
		for i := range benchVerdicts() {
			k, v := benchVerdict(i)
			if err := benchTable.Apply(k, v); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC() // the loading garbage must not be collected on the clock
	})
	return benchTable
}

// BenchmarkLookup looks up IPv4 clients in a table of benchVerdicts()
// verdicts, half of them present: "hot" cycles over 1,024 clients (a site's
// active clients, whose entries stay in the CPU caches), "cold" over 65,536
// in an order that defeats the caches, so each lookup waits on main memory.
func BenchmarkLookup(b *testing.B) {
	tab := loadedTable(b)
	const n = 1 << 16
	ips := make([]netip.Addr, n)
	for i := range ips {
		ips[i] = benchIP(int(uint32(i) * 2654435761 % uint32(benchVerdicts()*2)))
	}
	now := time.Now()
	b.Run("hot", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU()
		i := 0
		for b.Loop() {
			tab.Lookup(ips[i&1023], "", now)
			i++
		}
		cpu.report(b)
	})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU()
		i := 0
		for b.Loop() {
			tab.Lookup(ips[i&(n-1)], "", now)
			i++
		}
		cpu.report(b)
	})
	b.Run("hot-ip+session", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tab.Lookup(ips[i&1023], "c2vzc2lvbi1pZA", now)
			i++
		}
	})
	b.Run("hot-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				tab.Lookup(ips[i&1023], "", now)
				i++
			}
		})
	})
}

// BenchmarkApply measures one write into the loaded table.
func BenchmarkApply(b *testing.B) {
	tab := loadedTable(b)
	v := &eventpb.Verdict{Action: eventpb.Action_BLOCK, Reasons: []string{"r"}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = tab.Apply(subject.IP(benchIP(i)), v)
		i++
	}
}

// BenchmarkCatchUp writes benchVerdicts() verdicts to an embedded broker and
// measures how long a new table takes to catch up with them, and how much
// heap the caught-up table holds. Run it with -benchtime=1x.
func BenchmarkCatchUp(b *testing.B) {
	n := benchVerdicts()
	br := kafkatest.Start(b)
	cl := kafkatest.Client(b, br, kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(100_000), kgo.ProducerLinger(5*time.Millisecond))
	ctx := context.Background()
	var wg sync.WaitGroup
	var errOnce sync.Once
	var perr error
	for i := range n {
		k, v := benchVerdict(i)
		val, _ := proto.Marshal(v)
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte(k), Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				errOnce.Do(func() { perr = err })
			}
			wg.Done()
		})
	}
	wg.Wait()
	if perr != nil {
		b.Fatal(perr)
	}
	b.ReportAllocs()
	for b.Loop() {
		heapBefore := liveHeap()
		tab := verdicttable.New()
		runCtx, cancel := context.WithCancel(ctx)
		f := verdicttable.NewFollower(tab, kafkatest.Config(br), verdicttable.FollowOptions{})
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- f.Run(runCtx) }()
		peak := heapBefore
		tick := time.NewTicker(20 * time.Millisecond)
	wait:
		for {
			select {
			case <-f.Ready():
				break wait
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			case <-time.After(5 * time.Minute):
				b.Fatal("never caught up")
			}
		}
		took := time.Since(start)
		tick.Stop()
		cancel()
		<-done
		held := liveHeap() - heapBefore
		runtime.KeepAlive(tab)
		if tab.Len() != n {
			b.Fatalf("table holds %d verdicts, want %d", tab.Len(), n)
		}
		b.ReportMetric(took.Seconds(), "catchup-s")
		b.ReportMetric(float64(held)/(1<<20), "table-MiB")
		b.ReportMetric(float64(peak-heapBefore)/(1<<20), "peak-heap-MiB")
		fmt.Fprintf(os.Stderr, "catch-up of %d verdicts: %v, table live heap %.1f MiB, peak heap growth %.1f MiB\n",
			n, took.Round(time.Millisecond), float64(held)/(1<<20), float64(peak-heapBefore)/(1<<20))
	}
}

// cpuClock measures the process's CPU time (user + system), which, unlike
// the wall clock of ns/op, does not grow when other processes take the
// cores of a shared machine.
type cpuClock time.Duration

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock(processCPU()) }

// report adds cpu-ns/op: the process's CPU time over the loop per op.
func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU()-time.Duration(c))/float64(b.N), "cpu-ns/op")
}

// liveHeap is the heap the program holds after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
