package netfilter

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// iptablesTables are the tables iptables-nft creates, in families ip and ip6.
var iptablesTables = map[string]bool{"filter": true, "nat": true, "mangle": true, "raw": true, "security": true}

// IsIptables says whether the table is one iptables-nft manages, whose
// rules are printed as iptables -S prints them.
func (t *Table) IsIptables() bool {
	return (t.Family == nftables.TableFamilyIPv4 || t.Family == nftables.TableFamilyIPv6) && iptablesTables[t.Name]
}

// iptRule collects a rule's parts in the order iptables -S prints them:
// addresses, interfaces, protocol, matches, target.
type iptRule struct {
	fam         nftables.TableFamily
	src, dst    string
	iif, oif    string
	proto       string
	matches     []string
	ports       *portMatch // native th payload matches, printed as one -m tcp/udp
	target      string
	unsupported []string
}

// portMatch is iptables' -m tcp or -m udp, rebuilt from native payload
// matches; it is printed where the first of them was.
type portMatch struct {
	index        int // in matches
	sport, dport string
}

// IptablesText prints the rule as iptables -S (or ip6tables -S) does, e.g.
// "-A INPUT -p tcp -m tcp --dport 8443 -j REJECT --reject-with tcp-reset".
// ok is false when an expression is not understood; the text then names
// it in brackets.
func IptablesText(r *Rule) (text string, ok bool) {
	ir := &iptRule{fam: r.Chain.Table.Family}
	var ld load
	for _, e := range r.Exprs {
		ld = ir.step(e, ld)
	}
	return ir.String(r.Chain.Name), len(ir.unsupported) == 0
}

// load is what the last load expression put in the register.
type load struct {
	kind   string // "l4proto", "iifname", "oifname", "saddr", "daddr", "th", "" when nothing
	offset uint32
	len    uint32
	mask   []byte
}

func (ir *iptRule) step(e expr.Any, ld load) load {
	switch e := e.(type) {
	case *expr.Meta:
		return load{kind: metaKind(e.Key)}
	case *expr.Payload:
		return ir.payloadLoad(e)
	case *expr.Bitwise:
		if ld.kind == "saddr" || ld.kind == "daddr" {
			ld.mask = e.Mask
			return ld
		}
		ir.unsupported = append(ir.unsupported, "bitwise")
	case *expr.Cmp:
		ir.cmp(ld, e.Op, e.Data)
	case *expr.Range:
		ir.portRange(ld, e)
	case *expr.Counter:
	case *expr.Match:
		ir.match(e)
	case *expr.Verdict:
		ir.target = verdictTarget(e)
	case *expr.Target:
		ir.xtTarget(e)
	case *expr.Reject:
		ir.target = "-j REJECT --reject-with " + nftRejectWith(e, ir.fam == nftables.TableFamilyIPv6)
	default:
		ir.unsupported = append(ir.unsupported, exprName(e))
	}
	return load{}
}

func metaKind(k expr.MetaKey) string {
	switch k {
	case expr.MetaKeyL4PROTO:
		return "l4proto"
	case expr.MetaKeyIIFNAME:
		return "iifname"
	case expr.MetaKeyOIFNAME:
		return "oifname"
	}
	return "meta"
}

func (ir *iptRule) payloadLoad(e *expr.Payload) load {
	ld := load{offset: e.Offset, len: e.Len}
	v6 := ir.fam == nftables.TableFamilyIPv6
	switch {
	case e.Base == expr.PayloadBaseTransportHeader:
		ld.kind = "th"
	case e.Base != expr.PayloadBaseNetworkHeader:
		ld.kind = "payload"
	case !v6 && e.Offset == 9 && e.Len == 1, v6 && e.Offset == 6 && e.Len == 1:
		ld.kind = "l4proto"
	case !v6 && e.Offset == 12 && e.Len <= 4, v6 && e.Offset == 8 && e.Len <= 16:
		ld.kind = "saddr"
	case !v6 && e.Offset == 16 && e.Len <= 4, v6 && e.Offset == 24 && e.Len <= 16:
		ld.kind = "daddr"
	default:
		ld.kind = "payload"
	}
	return ld
}

func neg(op expr.CmpOp) string {
	if op == expr.CmpOpNeq {
		return "! "
	}
	return ""
}

func (ir *iptRule) cmp(ld load, op expr.CmpOp, data []byte) {
	if op != expr.CmpOpEq && op != expr.CmpOpNeq {
		ir.unsupported = append(ir.unsupported, "cmp "+ld.kind)
		return
	}
	switch ld.kind {
	case "l4proto":
		ir.proto = neg(op) + "-p " + iptProtoName(data[0])
	case "iifname":
		ir.iif = neg(op) + "-i " + ifaceText(data)
	case "oifname":
		ir.oif = neg(op) + "-o " + ifaceText(data)
	case "saddr":
		ir.src = neg(op) + "-s " + ir.addrText(ld, data)
	case "daddr":
		ir.dst = neg(op) + "-d " + ir.addrText(ld, data)
	case "th":
		ir.thPorts(ld, neg(op), data, data)
	default:
		ir.unsupported = append(ir.unsupported, "cmp "+ld.kind)
	}
}

func (ir *iptRule) portRange(ld load, e *expr.Range) {
	if ld.kind != "th" || ld.len != 2 {
		ir.unsupported = append(ir.unsupported, "range "+ld.kind)
		return
	}
	ir.thPorts(ld, neg(e.Op), e.FromData, e.ToData)
}

// thPorts records a native port match: offset 0 is the source port, 2 the
// destination port, and a 4-byte load at 0 both.
func (ir *iptRule) thPorts(ld load, not string, from, to []byte) {
	if ir.ports == nil {
		ir.ports = &portMatch{index: len(ir.matches)}
		ir.matches = append(ir.matches, "")
	}
	switch {
	case ld.offset == 0 && ld.len == 2:
		ir.ports.sport = not + "--sport " + portRangeText(from, to)
	case ld.offset == 2 && ld.len == 2:
		ir.ports.dport = not + "--dport " + portRangeText(from, to)
	case ld.offset == 0 && ld.len == 4 && not == "":
		ir.ports.sport = "--sport " + portRangeText(from[:2], to[:2])
		ir.ports.dport = "--dport " + portRangeText(from[2:], to[2:])
	default:
		ir.unsupported = append(ir.unsupported, "transport header match")
	}
}

func portRangeText(from, to []byte) string {
	a, b := binary.BigEndian.Uint16(from), binary.BigEndian.Uint16(to)
	if a == b {
		return strconv.Itoa(int(a))
	}
	return strconv.Itoa(int(a)) + ":" + strconv.Itoa(int(b))
}

// addrText prints an address match as iptables does: "10.0.0.0/24",
// "1.2.3.4/32", or a mask that is not a prefix as "10.1.0.0/255.255.0.255".
func (ir *iptRule) addrText(ld load, data []byte) string {
	full := 4
	if ir.fam == nftables.TableFamilyIPv6 {
		full = 16
	}
	addr := make([]byte, full)
	copy(addr, data)
	mask := make([]byte, full)
	if ld.mask != nil {
		copy(mask, ld.mask)
	} else {
		for i := range min(int(ld.len), full) {
			mask[i] = 0xff
		}
	}
	a, _ := netip.AddrFromSlice(addr)
	if bits, ok := prefixLen(mask); ok {
		return a.String() + "/" + strconv.Itoa(bits)
	}
	m, _ := netip.AddrFromSlice(mask)
	return a.String() + "/" + m.String()
}

// prefixLen returns the number of leading ones of mask, and whether the
// rest is zeros.
func prefixLen(mask []byte) (int, bool) {
	bits, zeros := 0, false
	for _, b := range mask {
		for i := 7; i >= 0; i-- {
			one := b&(1<<i) != 0
			if one && zeros {
				return 0, false
			}
			if one {
				bits++
			} else {
				zeros = true
			}
		}
	}
	return bits, true
}

// ifaceText is a device name as iptables prints it: a name iptables-nft
// stored without its NUL is a prefix, "veth+".
func ifaceText(data []byte) string {
	name := cString(data)
	if len(name) == len(data) {
		return name + "+"
	}
	return name
}

// iptProtoName names an IP protocol as iptables -S does.
func iptProtoName(p uint8) string {
	names := map[uint8]string{1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp", 136: "udplite", 50: "esp", 51: "ah", 135: "mh"}
	if n, ok := names[p]; ok {
		return n
	}
	return strconv.Itoa(int(p))
}

func verdictTarget(e *expr.Verdict) string {
	switch e.Kind {
	case expr.VerdictDrop:
		return "-j DROP"
	case expr.VerdictAccept:
		return "-j ACCEPT"
	case expr.VerdictReturn:
		return "-j RETURN"
	case expr.VerdictJump:
		return "-j " + e.Chain
	case expr.VerdictGoto:
		return "-g " + e.Chain
	}
	return "-j [unsupported verdict]"
}

func (ir *iptRule) xtTarget(e *expr.Target) {
	v := targetVerdict(e)
	if v.Action == ActReject {
		ir.target = "-j REJECT --reject-with " + v.RejectWith(ir.fam, ir.fam == nftables.TableFamilyIPv6)
		return
	}
	ir.target = "-j " + e.Name
	ir.unsupported = append(ir.unsupported, "target "+e.Name)
}

// String joins the parts, naming what was not understood in brackets.
func (ir *iptRule) String(chain string) string {
	if ir.ports != nil {
		ir.matches[ir.ports.index] = ir.portMatchText()
	}
	parts := []string{"-A " + chain, ir.src, ir.dst, ir.iif, ir.oif, ir.proto}
	parts = append(parts, ir.matches...)
	parts = append(parts, ir.target)
	if len(ir.unsupported) > 0 {
		parts = append(parts, "[unsupported expression: "+strings.Join(ir.unsupported, ", ")+"]")
	}
	return joinNonEmpty(parts)
}

func (ir *iptRule) portMatchText() string {
	name := "tcp"
	if strings.HasSuffix(ir.proto, "udp") {
		name = "udp"
	}
	return joinNonEmpty([]string{"-m " + name, ir.ports.sport, ir.ports.dport})
}

func joinNonEmpty(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p)
	}
	return b.String()
}

func exprName(e expr.Any) string {
	name := strings.TrimPrefix(strings.TrimPrefix(typeName(e), "*expr."), "expr.")
	return strings.ToLower(name)
}

// match prints the xt matches iptables-nft keeps as such.
func (ir *iptRule) match(e *expr.Match) {
	switch info := e.Info.(type) {
	case *xt.Comment:
		ir.matches = append(ir.matches, "-m comment --comment"+saveString(string(*info)))
	case *xt.Tcp:
		ir.matches = append(ir.matches, xtPortsText("tcp", info.SrcPorts, info.DstPorts, uint8(info.InvFlags)))
		if info.FlagsMask != 0 || info.Option != 0 {
			ir.unsupported = append(ir.unsupported, "tcp flags")
		}
	case *xt.Udp:
		ir.matches = append(ir.matches, xtPortsText("udp", info.SrcPorts, info.DstPorts, uint8(info.InvFlags)))
	case *xt.ConntrackMtinfo1:
		ir.conntrack(&info.ConntrackMtinfoBase, uint32(info.StateMask))
	case *xt.ConntrackMtinfo2:
		ir.conntrack(&info.ConntrackMtinfoBase, uint32(info.StateMask))
	case *xt.ConntrackMtinfo3:
		ir.conntrack(&info.ConntrackMtinfoBase, uint32(info.StateMask))
	case *xt.Unknown:
		if mp, ok := parseMultiport(e); ok {
			ir.matches = append(ir.matches, mp.text())
			return
		}
		ir.matches = append(ir.matches, "-m "+e.Name)
		ir.unsupported = append(ir.unsupported, "match "+e.Name)
	default:
		ir.matches = append(ir.matches, "-m "+e.Name)
		ir.unsupported = append(ir.unsupported, "match "+e.Name)
	}
}

func xtPortsText(name string, src, dst [2]uint16, inv uint8) string {
	parts := []string{"-m " + name}
	port := func(flag string, r [2]uint16, invert bool) {
		if r == [2]uint16{0, 0xffff} {
			return
		}
		s := flag + " " + strconv.Itoa(int(r[0]))
		if r[0] != r[1] {
			s += ":" + strconv.Itoa(int(r[1]))
		}
		if invert {
			s = "! " + s
		}
		parts = append(parts, s)
	}
	port("--sport", src, inv&1 != 0)
	port("--dport", dst, inv&2 != 0)
	return strings.Join(parts, " ")
}

// saveString quotes a value as iptables' xtables_save_string does,
// with its leading space.
func saveString(s string) string {
	const plain = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	if s != "" && strings.Trim(s, plain) == "" {
		return " " + s
	}
	var b strings.Builder
	b.WriteString(` "`)
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' || c == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// conntrack states as iptables prints them, in its order.
var xtCtStates = []struct {
	bit  uint32
	name string
}{{1, "INVALID"}, {8, "NEW"}, {4, "RELATED"}, {2, "ESTABLISHED"}, {256, "UNTRACKED"}, {64, "SNAT"}, {128, "DNAT"}}

const xtConntrackStateAlias = 1 << 13 // -m state, stored as conntrack

func (ir *iptRule) conntrack(b *xt.ConntrackMtinfoBase, mask uint32) {
	flags := uint16(b.MatchFlags)
	if flags&^xtConntrackStateAlias != xtConntrackState {
		ir.matches = append(ir.matches, "-m conntrack")
		ir.unsupported = append(ir.unsupported, "conntrack options")
		return
	}
	var names []string
	for _, s := range xtCtStates {
		if mask&s.bit != 0 {
			names = append(names, s.name)
		}
	}
	not := ""
	if b.InvertFlags&xtConntrackState != 0 {
		not = "! "
	}
	if flags&xtConntrackStateAlias != 0 {
		ir.matches = append(ir.matches, "-m state "+not+"--state "+strings.Join(names, ","))
		return
	}
	ir.matches = append(ir.matches, "-m conntrack "+not+"--ctstate "+strings.Join(names, ","))
}
