package fwsync

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Set names inside the table.
const (
	Set4 = "block4"
	Set6 = "block6"
)

// minTimeout is the shortest element timeout worth installing: an element
// closer than this to its expiry is left out (the kernel would drop it
// before the next sync anyway).
const minTimeout = time.Second

// kernel talks to nftables over netlink, only ever inside Bulwark's table.
type kernel struct {
	conn        *nftables.Conn
	table       *nftables.Table
	set4, set6  *nftables.Set
	chain       bool
	nsFile      *os.File
	installedAt time.Time
}

func openKernel(cfg Config) (*kernel, error) {
	k := &kernel{chain: cfg.InstallChain}
	var opts []nftables.ConnOption
	if cfg.NetNS != "" {
		f, err := os.Open(cfg.NetNS)
		if err != nil {
			return nil, fmt.Errorf("open network namespace %s: %w", cfg.NetNS, err)
		}
		k.nsFile = f
		opts = append(opts, nftables.WithNetNSFd(int(f.Fd())))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		k.close()
		return nil, fmt.Errorf("nftables: %w", err)
	}
	k.conn = conn
	k.table = &nftables.Table{Family: nftables.TableFamilyINet, Name: cfg.Table}
	k.set4 = &nftables.Set{Table: k.table, Name: Set4, KeyType: nftables.TypeIPAddr, Interval: true, HasTimeout: true,
		Comment: "Bulwark: blocked IPv4 clients (managed by bulwark-fwsync)"}
	k.set6 = &nftables.Set{Table: k.table, Name: Set6, KeyType: nftables.TypeIP6Addr, Interval: true, HasTimeout: true,
		Comment: "Bulwark: blocked IPv6 clients (managed by bulwark-fwsync)"}
	return k, nil
}

func (k *kernel) close() {
	if k.nsFile != nil {
		k.nsFile.Close()
	}
}

// setElements spells networks as interval-set elements: a start element
// with the timeout, and an end element at the first address after it.
func setElements(m map[netip.Prefix]time.Time, now time.Time) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, 2*len(m))
	for p, exp := range m {
		out = append(out, elementsOf(p, exp, now)...)
	}
	return out
}

func elementsOf(p netip.Prefix, exp time.Time, now time.Time) []nftables.SetElement {
	start, end := bounds(p)
	var timeout time.Duration
	if !exp.IsZero() {
		timeout = exp.Sub(now).Round(time.Millisecond)
		if timeout < minTimeout {
			return nil
		}
	}
	out := []nftables.SetElement{{Key: start.AsSlice(), Timeout: timeout}}
	if end.IsValid() {
		out = append(out, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
	}
	return out
}

// replaceAll rewrites Bulwark's sets (and its chain) in one atomic
// transaction: flush and refill, so there is no moment where traffic from
// the sets passes, and edits made by hand to the sets are undone. Chains
// others added to the table stay. If the table holds sets fwsync cannot
// reuse (made by hand with other flags), it is recreated: the "add table;
// delete table; add table" idiom, still one transaction.
func (k *kernel) replaceAll(v4, v6 map[netip.Prefix]time.Time, now time.Time) error {
	err := k.fill(v4, v6, now, false)
	if err != nil {
		err = k.fill(v4, v6, now, true)
	}
	if err != nil {
		return fmt.Errorf("write table inet %s: %w", k.table.Name, err)
	}
	k.installedAt = now
	return nil
}

func (k *kernel) fill(v4, v6 map[netip.Prefix]time.Time, now time.Time, recreate bool) error {
	c := k.conn
	c.AddTable(k.table)
	if recreate {
		c.DelTable(k.table)
		c.AddTable(k.table)
	}
	for _, s := range []struct {
		set   *nftables.Set
		width int
		els   map[netip.Prefix]time.Time
	}{{k.set4, 4, v4}, {k.set6, 16, v6}} {
		if err := c.AddSet(s.set, nil); err != nil {
			return fmt.Errorf("add set %s: %w", s.set.Name, err)
		}
		c.FlushSet(s.set)
		// Interval sets carry an implicit zero "end" element first, as nft
		// itself writes them.
		els := append([]nftables.SetElement{{Key: make([]byte, s.width), IntervalEnd: true}}, setElements(s.els, now)...)
		if err := c.SetAddElements(s.set, els); err != nil {
			return fmt.Errorf("fill set %s: %w", s.set.Name, err)
		}
	}
	if k.chain {
		k.addChain()
	}
	return c.Flush()
}

// addChain installs "ip saddr @block4 drop; ip6 saddr @block6 drop" in a
// prerouting filter chain at priority filter - 1: before the usual filter
// chains, for traffic to the host and traffic forwarded (to pods) alike.
func (k *kernel) addChain() {
	prio := nftables.ChainPriorityRef(*nftables.ChainPriorityFilter - 1)
	policy := nftables.ChainPolicyAccept
	ch := k.conn.AddChain(&nftables.Chain{
		Name: "prerouting", Table: k.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: prio, Policy: &policy,
	})
	k.conn.FlushChain(ch)
	for _, r := range []struct {
		proto         byte
		offset, width uint32
		set           *nftables.Set
	}{
		{unix.NFPROTO_IPV4, 12, 4, k.set4},
		{unix.NFPROTO_IPV6, 8, 16, k.set6},
	} {
		k.conn.AddRule(&nftables.Rule{Table: k.table, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{r.proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: r.offset, Len: r.width},
			&expr.Lookup{SourceRegister: 1, SetName: r.set.Name, SetID: r.set.ID},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
	}
}

// apply changes elements in one transaction. An element whose expiry moved
// is deleted and added again (the kernel cannot change a timeout in place).
func (k *kernel) apply(del4, add4, del6, add6 map[netip.Prefix]time.Time, now time.Time) error {
	c := k.conn
	for _, d := range []struct {
		set      *nftables.Set
		del, add map[netip.Prefix]time.Time
	}{{k.set4, del4, add4}, {k.set6, del6, add6}} {
		if len(d.del) > 0 {
			var els []nftables.SetElement
			for p := range d.del {
				start, end := bounds(p)
				els = append(els, nftables.SetElement{Key: start.AsSlice()})
				if end.IsValid() {
					els = append(els, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
				}
			}
			if err := c.SetDeleteElements(d.set, els); err != nil {
				return fmt.Errorf("delete elements from %s: %w", d.set.Name, err)
			}
		}
		if els := setElements(d.add, now); len(els) > 0 {
			if err := c.SetAddElements(d.set, els); err != nil {
				return fmt.Errorf("add elements to %s: %w", d.set.Name, err)
			}
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("update sets in table inet %s: %w", k.table.Name, err)
	}
	return nil
}
