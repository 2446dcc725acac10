package netfilter

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/google/nftables/xt"
	"github.com/mdlayher/netlink"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/nsfs"
)

// maxSetElements bounds what is read of one set: a set larger than this
// is marked Truncated, and a look-up that misses it proves nothing.
const maxSetElements = 1 << 16

// Reader reads the ruleset of one network namespace over netlink. It only
// sends dump requests, which change nothing.
type Reader struct {
	ns     *os.File
	conn   *nftables.Conn
	route  *vnl.Handle
	legacy *legacyHandles // opened at the first read
}

// OpenReader opens a reader for the namespace that path opens
// (/run/netns/NAME, /proc/PID/ns/net); with ino not 0, it checks that
// path still opens the namespace of that inode.
func OpenReader(path string, ino uint32) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening netns %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || (ino != 0 && st.Ino != uint64(ino)) {
		f.Close()
		return nil, fmt.Errorf("netns %d: %s opens another namespace: %w", ino, path, nsfs.ErrNetnsNotFound)
	}
	conn, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())), nftables.AsLasting())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("nftables netlink in %s: %w", path, err)
	}
	route, err := vnl.NewHandleAt(netns.NsHandle(int(f.Fd())), unix.NETLINK_ROUTE)
	if err != nil {
		conn.CloseLasting()
		f.Close()
		return nil, fmt.Errorf("route netlink in %s: %w", path, err)
	}
	return &Reader{ns: f, conn: conn, route: route}, nil
}

// Close releases the namespace and the reader's sockets.
func (r *Reader) Close() error {
	if r.legacy != nil {
		r.legacy.close()
	}
	r.route.Close()
	r.conn.CloseLasting()
	return r.ns.Close()
}

// LocalAddrs returns the addresses of the namespace's devices, which
// tell a packet delivered or sent locally from a forwarded one.
func (r *Reader) LocalAddrs() (map[netip.Addr]bool, error) {
	addrs, err := r.route.AddrList(nil, vnl.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	local := map[netip.Addr]bool{}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			local[ip.Unmap()] = true
		}
	}
	return local, nil
}

// OutputDevice returns the device the namespace routes a packet from src
// to dst through: a forwarded one that came in on iif, or a local one
// (iif ""). Routing by policy rules other than the mark may differ.
func (r *Reader) OutputDevice(src, dst netip.Addr, iif string, mark uint32) (string, error) {
	opts := &vnl.RouteGetOptions{Iif: iif, SrcAddr: src.AsSlice(), Mark: mark}
	routes, err := r.route.RouteGetWithOptions(dst.AsSlice(), opts)
	if err != nil || len(routes) == 0 {
		return "", fmt.Errorf("route to %s: %w", dst, err)
	}
	link, err := r.route.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return "", fmt.Errorf("device %d: %w", routes[0].LinkIndex, err)
	}
	return link.Attrs().Name, nil
}

// Read returns the namespace's ruleset now. Tables, chains and rules are
// read by separate dumps: a ruleset changed during the read may be seen
// half old, half new.
func (r *Reader) Read() (*Ruleset, error) {
	rs := &Ruleset{Start: time.Now()}
	if n, err := r.conntrackInvalid(); err == nil {
		rs.CtInvalid, rs.CtInvalidKnown = n, true
	}
	chains, err := r.dumpChains()
	if err != nil {
		return nil, err
	}
	tables := map[string]*Table{}
	for _, c := range chains {
		key := FamilyName(c.Table.Family) + " " + c.Table.Name
		t, ok := tables[key]
		if !ok {
			t = c.Table
			tables[key] = t
			rs.Tables = append(rs.Tables, t)
		}
		c.Table = t
		t.Chains = append(t.Chains, c)
		if err := r.readRules(c); err != nil {
			return nil, err
		}
	}
	for _, t := range rs.Tables {
		if err := r.readSets(t); err != nil {
			return nil, err
		}
	}
	legacy, err := r.readLegacy()
	if err != nil {
		return nil, fmt.Errorf("reading iptables-legacy tables: %w", err)
	}
	rs.Tables = append(rs.Tables, legacy...)
	rs.End = time.Now()
	return rs, nil
}

func (r *Reader) readRules(c *Chain) error {
	nt := &nftables.Table{Name: c.Table.Name, Family: c.Table.Family}
	rules, err := r.conn.GetRules(nt, &nftables.Chain{Name: c.Name, Table: nt})
	if err != nil {
		return fmt.Errorf("listing rules of %s %s/%s: %w", FamilyName(c.Table.Family), c.Table.Name, c.Name, err)
	}
	for i, nr := range rules {
		c.Rules = append(c.Rules, newRule(c, i+1, nr))
	}
	return nil
}

func newRule(c *Chain, pos int, nr *nftables.Rule) *Rule {
	r := &Rule{Chain: c, Handle: nr.Handle, Position: pos, Exprs: nr.Exprs}
	if b := userdata.Get(nr.UserData, userdata.TypeComment); b != nil {
		r.Comment = cString(b)
	}
	matchesAfter := false
	for _, e := range nr.Exprs {
		switch e := e.(type) {
		case *expr.Counter:
			r.HasCounter, r.Packets, r.Bytes = true, e.Packets, e.Bytes
			matchesAfter = false
		case *expr.Cmp, *expr.Range, *expr.Lookup, *expr.Limit, *expr.Quota, *expr.Connlimit:
			matchesAfter = r.HasCounter
		case *expr.Match:
			if cm, ok := e.Info.(*xt.Comment); ok && e.Name == "comment" {
				r.Comment = string(*cm)
			} else {
				matchesAfter = r.HasCounter
			}
		}
	}
	r.CounterAfterMatches = r.HasCounter && !matchesAfter
	return r
}

func (r *Reader) readSets(t *Table) error {
	nt := &nftables.Table{Name: t.Name, Family: t.Family}
	sets, err := r.conn.GetSets(nt)
	if err != nil {
		return fmt.Errorf("listing sets of %s %s: %w", FamilyName(t.Family), t.Name, err)
	}
	t.Sets = map[string]*Set{}
	for _, s := range sets {
		set := &Set{Name: s.Name, Anonymous: s.Anonymous, Interval: s.Interval, KeyType: s.KeyType.Name, KeyLen: s.KeyType.Bytes}
		if !s.IsMap && !s.Concatenation {
			s.Table = nt
			els, err := r.conn.GetSetElements(s)
			if err != nil {
				return fmt.Errorf("listing elements of set %s %s/%s: %w", FamilyName(t.Family), t.Name, s.Name, err)
			}
			if len(els) > maxSetElements {
				els, set.Truncated = els[:maxSetElements], true
			}
			set.Elements = els
		} else {
			set.Truncated = true // maps and concatenations are not evaluated
		}
		t.Sets[s.Name] = set
	}
	return nil
}

// dumpChains dumps every chain with its counters and handle, which
// nftables.Conn.ListChains does not decode.
func (r *Reader) dumpChains() ([]*Chain, error) {
	nl, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: int(r.ns.Fd())})
	if err != nil {
		return nil, fmt.Errorf("dialing netfilter netlink: %w", err)
	}
	defer nl.Close()
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETCHAIN),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	}
	msgs, err := nl.Execute(req)
	if err != nil {
		return nil, fmt.Errorf("dumping chains: %w", err)
	}
	var chains []*Chain
	for _, m := range msgs {
		c, err := chainFromMsg(m.Data)
		if err != nil {
			return nil, fmt.Errorf("decoding chain: %w", err)
		}
		chains = append(chains, c)
	}
	return chains, nil
}

func chainFromMsg(b []byte) (*Chain, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("short message (%d bytes)", len(b))
	}
	c := &Chain{Table: &Table{Family: nftables.TableFamily(b[0])}}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return nil, err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_CHAIN_TABLE:
			c.Table.Name = ad.String()
		case unix.NFTA_CHAIN_NAME:
			c.Name = ad.String()
		case unix.NFTA_CHAIN_HANDLE:
			c.Handle = ad.Uint64()
		case unix.NFTA_CHAIN_TYPE:
			c.Type = ad.String()
		case unix.NFTA_CHAIN_POLICY:
			c.PolicyDrop = ad.Uint32() == nfDrop
		case unix.NFTA_CHAIN_HOOK:
			c.Base = true
			ad.Nested(func(nad *netlink.AttributeDecoder) error { decodeHook(nad, c); return nil })
		case unix.NFTA_CHAIN_COUNTERS:
			c.HasCounters = true
			ad.Nested(func(nad *netlink.AttributeDecoder) error { decodeCounters(nad, c); return nil })
		}
	}
	return c, ad.Err()
}

func decodeHook(ad *netlink.AttributeDecoder, c *Chain) {
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_HOOK_HOOKNUM:
			c.Hook = ad.Uint32()
		case unix.NFTA_HOOK_PRIORITY:
			c.Priority = int32(ad.Uint32())
		}
	}
}

func decodeCounters(ad *netlink.AttributeDecoder, c *Chain) {
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_COUNTER_BYTES:
			c.Bytes = ad.Uint64()
		case unix.NFTA_COUNTER_PACKETS:
			c.Packets = ad.Uint64()
		}
	}
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// nfDrop is NF_DROP, the verdict value of a drop policy.
const nfDrop = 0
