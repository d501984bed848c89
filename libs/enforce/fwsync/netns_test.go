package fwsync_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	"github.com/google/nftables"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/bulwarkhq/bulwark/libs/enforce/fwsync"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/platform/kafka"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// netnsLab is two network namespaces joined by a veth pair: "host" runs
// fwsync and a TCP listener, "client" connects from several addresses.
// Every address lives inside the namespaces, in a random 10.x/24.
type netnsLab struct {
	host, client string // namespace names
	hostAddr     netip.Addr
	clientAddrs  []netip.Addr
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %v: %v: %s", args, err, out)
	}
	return nil
}

func newLab(t testing.TB) *netnsLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("fwsync netns test needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN to make network namespaces); skipped")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("fwsync netns test needs iproute2's ip command; skipped")
	}
	r := rand.IntN(200) + 20
	suffix := fmt.Sprintf("%d%d", os.Getpid()%10000, r)
	lab := &netnsLab{host: "bwfwh" + suffix, client: "bwfwc" + suffix}
	if err := ipCmd("netns", "add", lab.host); err != nil {
		t.Skipf("cannot make a network namespace here (%v); skipped", err)
	}
	t.Cleanup(func() { _ = ipCmd("netns", "del", lab.host) })
	if err := ipCmd("netns", "add", lab.client); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ipCmd("netns", "del", lab.client) })
	net := fmt.Sprintf("10.%d.%d", r, rand.IntN(250)+1)
	lab.hostAddr = netip.MustParseAddr(net + ".1")
	for i := 2; i <= 6; i++ {
		lab.clientAddrs = append(lab.clientAddrs, netip.MustParseAddr(fmt.Sprintf("%s.%d", net, i)))
	}
	steps := [][]string{
		{"-n", lab.host, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", lab.client},
		{"-n", lab.host, "addr", "add", lab.hostAddr.String() + "/24", "dev", "veth0"},
		{"-n", lab.host, "link", "set", "veth0", "up"},
		{"-n", lab.host, "link", "set", "lo", "up"},
		{"-n", lab.client, "link", "set", "veth1", "up"},
		{"-n", lab.client, "link", "set", "lo", "up"},
	}
	for _, a := range lab.clientAddrs {
		steps = append(steps, []string{"-n", lab.client, "addr", "add", a.String() + "/24", "dev", "veth1"})
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			t.Fatal(err)
		}
	}
	return lab
}

func nsPath(name string) string { return "/var/run/netns/" + name }

// inNetNS runs fn on an OS thread switched into the namespace. Sockets made
// there stay in that namespace.
func inNetNS(name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open(nsPath(name))
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", name, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with this goroutine rather than
		// serve others from the wrong namespace.
		return errors.Join(ferr, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// listen accepts (and closes) TCP connections in the host namespace.
func (l *netnsLab) listen(t *testing.T) netip.AddrPort {
	t.Helper()
	var ln net.Listener
	err := inNetNS(l.host, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(l.hostAddr, 0).String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// connects reports whether a TCP connection from src to dst succeeds; a
// dropped SYN shows as a timeout.
func (l *netnsLab) connects(src netip.Addr, dst netip.AddrPort) bool {
	var ok bool
	_ = inNetNS(l.client, func() error {
		d := net.Dialer{Timeout: 400 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
		c, err := d.Dial("tcp", dst.String())
		if err == nil {
			c.Close()
			ok = true
		}
		return nil
	})
	return ok
}

func (l *netnsLab) setElements(t testing.TB, table, set string) []string {
	t.Helper()
	var out []string
	for _, e := range l.rawElements(t, table, set) {
		a, _ := netip.AddrFromSlice(e.Key)
		if e.IntervalEnd {
			out = append(out, "end:"+a.String())
		} else {
			out = append(out, a.String())
		}
	}
	slices.Sort(out)
	return out
}

// expiresIn is how long the kernel keeps the element starting at a (0 if
// there is none).
func (l *netnsLab) expiresIn(t testing.TB, table, set string, a netip.Addr) time.Duration {
	t.Helper()
	for _, e := range l.rawElements(t, table, set) {
		if k, _ := netip.AddrFromSlice(e.Key); k == a && !e.IntervalEnd {
			return e.Expires
		}
	}
	return 0
}

func (l *netnsLab) rawElements(t testing.TB, table, set string) []nftables.SetElement {
	t.Helper()
	f, err := os.Open(nsPath(l.host))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.GetSetByName(&nftables.Table{Family: nftables.TableFamilyINet, Name: table}, set)
	if err != nil {
		t.Fatalf("set %s: %v", set, err)
	}
	els, err := c.GetSetElements(s)
	if err != nil {
		t.Fatal(err)
	}
	return els
}

func TestDropsBlockedClientsInNetNS(t *testing.T) {
	lab := newLab(t)
	dst := lab.listen(t)
	blocked, lifted, expiring, bystander, renewed := lab.clientAddrs[0], lab.clientAddrs[1], lab.clientAddrs[2], lab.clientAddrs[3], lab.clientAddrs[4]
	for _, a := range lab.clientAddrs {
		if !lab.connects(a, dst) {
			t.Fatalf("%s cannot connect before fwsync runs: the lab is broken", a)
		}
	}
	// A table that is not Bulwark's: fwsync must leave it alone.
	if out, err := exec.Command("ip", "netns", "exec", lab.host, "nft", "add table inet someone_else").CombinedOutput(); err != nil {
		t.Logf("nft CLI unavailable (%v: %s); not checking foreign tables", err, out)
	}

	b := kafkatest.Start(t)
	cl := kafkatest.Client(t, b)
	put := func(subject string, v *eventpb.Verdict) {
		t.Helper()
		rec := &kgo.Record{Topic: "bulwark.verdicts.v1", Key: []byte(subject)}
		if v != nil {
			v.Subject = subject
			rec.Value, _ = proto.Marshal(v)
		}
		if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	blockFor := func(d time.Duration) *eventpb.Verdict {
		v := &eventpb.Verdict{Action: eventpb.Action_BLOCK, Score: 99}
		if d > 0 {
			v.ExpiresAtUnixNano = time.Now().Add(d).UnixNano()
		}
		return v
	}
	put("ip:"+blocked.String(), blockFor(0))
	put("ip:"+lifted.String(), blockFor(time.Hour))
	put("ip:"+expiring.String(), blockFor(4*time.Second))
	put("net:2001:db8::/48", blockFor(time.Hour))
	put("ip:2001:db8::1", blockFor(time.Hour)) // covered by the /48
	put("ip:2001:db8:1::7", blockFor(0))
	put("net:198.51.100.0/24", blockFor(0))
	put("ip:198.51.101.0", blockFor(0)) // adjacent to the /24's end
	put("session:s1", blockFor(0))
	put("ip:203.0.113.9", &eventpb.Verdict{Action: eventpb.Action_MONITOR})

	cfg := fwsync.Config{Table: "bulwark_test", Actions: "BLOCK", InstallChain: true, SyncInterval: 20 * time.Millisecond,
		ResyncInterval: time.Hour, NetNS: nsPath(lab.host)}
	stop := startSyncer(t, cfg, kafkatest.Config(b))

	want6 := []string{"2001:db8:1::7", "2001:db8::", "end:::", "end:2001:db8:1::8", "end:2001:db8:1::"}
	slices.Sort(want6)
	if got := lab.setElements(t, "bulwark_test", fwsync.Set6); !slices.Equal(got, want6) {
		t.Errorf("block6 = %v, want %v", got, want6)
	}
	want4 := []string{"198.51.100.0", "end:0.0.0.0", "end:198.51.101.0", "198.51.101.0", "end:198.51.101.1",
		blocked.String(), "end:" + blocked.Next().String(), lifted.String(), "end:" + lifted.Next().String(),
		expiring.String(), "end:" + expiring.Next().String()}
	slices.Sort(want4)
	if got := lab.setElements(t, "bulwark_test", fwsync.Set4); !slices.Equal(got, want4) {
		t.Errorf("block4 = %v, want %v", got, want4)
	}
	if lab.connects(blocked, dst) || lab.connects(lifted, dst) || lab.connects(expiring, dst) {
		t.Error("a blocked client could connect")
	}
	if !lab.connects(bystander, dst) {
		t.Error("a client without a verdict could not connect")
	}

	put("ip:"+lifted.String(), nil) // unblock
	testkit.Eventually(t, 20*time.Second, "the lifted client connects", func() bool { return lab.connects(lifted, dst) })
	if lab.connects(blocked, dst) {
		t.Error("lifting one client let another through")
	}

	testkit.Eventually(t, 20*time.Second, "the expired client connects", func() bool { return lab.connects(expiring, dst) })
	if got := lab.setElements(t, "bulwark_test", fwsync.Set4); slices.Contains(got, expiring.String()) {
		t.Errorf("expired element still in block4: %v", got)
	}
	if lab.connects(blocked, dst) {
		t.Error("the permanently blocked client got through")
	}

	// A verdict renewed just before it times out keeps dropping: the kernel
	// must not keep the old timeout.
	put("ip:"+renewed.String(), blockFor(1800*time.Millisecond))
	testkit.Eventually(t, 20*time.Second, "the renewed client is blocked", func() bool { return !lab.connects(renewed, dst) })
	// The old verdict's last moments, as the kernel's own timer counts them
	// (an element gone already counts too: the renewal must then add it back).
	testkit.EventuallyEvery(t, 20*time.Second, 20*time.Millisecond, "the old element's kernel timeout to run low", func() bool {
		return lab.expiresIn(t, "bulwark_test", fwsync.Set4, renewed) < 600*time.Millisecond
	})
	put("ip:"+renewed.String(), blockFor(time.Hour))
	// The proof is the kernel's own timer, not a wait past the old expiry.
	testkit.Eventually(t, 20*time.Second, "the renewed element's kernel timeout to move to the new expiry", func() bool {
		return lab.expiresIn(t, "bulwark_test", fwsync.Set4, renewed) > time.Minute
	})
	if lab.connects(renewed, dst) {
		t.Error("a verdict renewed just before its expiry stopped dropping")
	}

	// A restart rewrites the sets atomically and keeps chains others put
	// in the table (such as a hand-written drop rule).
	stop()
	nft := func(args string) (string, error) {
		out, err := exec.Command("ip", "netns", "exec", lab.host, "nft", args).CombinedOutput()
		return string(out), err
	}
	_, nftErr := nft("add chain inet bulwark_test mine { type filter hook input priority 0; policy accept; }")
	put("ip:"+bystander.String(), blockFor(0))
	startSyncer(t, cfg, kafkatest.Config(b))
	if lab.connects(blocked, dst) || lab.connects(bystander, dst) {
		t.Error("after a restart a blocked client could connect")
	}
	if !lab.connects(lifted, dst) {
		t.Error("after a restart a lifted client could not connect")
	}
	if nftErr == nil {
		if out, err := nft("list table inet bulwark_test"); err != nil || !strings.Contains(out, "chain mine") || strings.Count(out, "drop") != 2 {
			t.Errorf("after a restart the table is:\n%s (%v)", out, err)
		}
	}
	if out, err := exec.Command("ip", "netns", "exec", lab.host, "nft", "list tables").CombinedOutput(); err == nil {
		if !slices.Contains(strings.Split(string(out), "\n"), "table inet someone_else") {
			t.Errorf("fwsync touched another table: %s", out)
		}
	}
}

// startSyncer runs fwsync until the test ends (or stop is called) and waits
// for its first sync.
func startSyncer(t testing.TB, cfg fwsync.Config, kcfg kafka.Config) (stop func()) {
	t.Helper()
	s, err := fwsync.New(cfg, kcfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-s.Synced():
	case err := <-done:
		t.Fatalf("fwsync stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("fwsync never synced")
	}
	return stop
}
