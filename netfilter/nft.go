package netfilter

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// NftText prints the rule as nft list ruleset does (without its
// "# handle" comment), e.g. "ip daddr @blocked drop". ok is false when an
// expression is not understood; the text then names it in brackets.
func NftText(r *Rule) (text string, ok bool) {
	p := &nftPrinter{table: r.Chain.Table}
	for _, e := range r.Exprs {
		p.step(e)
	}
	out := p.String()
	if r.Comment != "" {
		out += " comment " + strconv.Quote(r.Comment)
	}
	return out, len(p.unsupported) == 0
}

// nftStmt is one printed statement; a protocol match nft added as the
// dependency of a later header match is not printed when that match is.
type nftStmt struct {
	text   string
	dep    byte // 'l' meta l4proto, 'n' meta nfproto, 0 otherwise
	elided bool
}

type nftPrinter struct {
	table       *Table
	stmts       []nftStmt
	unsupported []string
	ld          nftLoad
	l4, nf      int // index in stmts of the last l4proto / nfproto equality, -1 none
	l4proto     byte
	nfproto     byte
	set         bool
}

// nftLoad is the register's content: a named field and how to print values.
type nftLoad struct {
	field  string
	format func([]byte) string
	mask   []byte
	ct     bool // ct state: printed from the bitwise mask
	gte    []byte
}

func (p *nftPrinter) step(e expr.Any) {
	if !p.set {
		p.l4, p.nf, p.set = -1, -1, true
	}
	switch e := e.(type) {
	case *expr.Meta:
		p.meta(e)
	case *expr.Payload:
		p.payload(e)
	case *expr.Ct:
		p.ld = nftLoad{field: "ct", ct: e.Key == expr.CtKeySTATE}
		if !p.ld.ct {
			p.fail("ct key " + strconv.Itoa(int(e.Key)))
		}
	case *expr.Bitwise:
		p.ld.mask = e.Mask
	case *expr.Cmp:
		p.cmp(e)
	case *expr.Range:
		p.emit(p.ld.field + " " + rangeOp(e.Op) + p.ld.format(e.FromData) + "-" + p.ld.format(e.ToData))
	case *expr.Lookup:
		p.lookup(e)
	default:
		p.statement(e)
	}
}

func (p *nftPrinter) fail(what string) {
	p.unsupported = append(p.unsupported, what)
	p.ld = nftLoad{field: "[" + what + "]", format: hexText}
}

func (p *nftPrinter) emit(s string) { p.stmts = append(p.stmts, nftStmt{text: s}) }

func (p *nftPrinter) meta(e *expr.Meta) {
	if e.SourceRegister {
		p.fail("meta set")
		return
	}
	switch e.Key {
	case expr.MetaKeyL4PROTO:
		p.ld = nftLoad{field: "meta l4proto", format: protoText}
	case expr.MetaKeyNFPROTO:
		p.ld = nftLoad{field: "meta nfproto", format: nfprotoText}
	case expr.MetaKeyIIFNAME:
		p.ld = nftLoad{field: "iifname", format: ifnameText}
	case expr.MetaKeyOIFNAME:
		p.ld = nftLoad{field: "oifname", format: ifnameText}
	case expr.MetaKeyMARK:
		p.ld = nftLoad{field: "meta mark", format: markText}
	default:
		p.fail("meta key " + strconv.Itoa(int(e.Key)))
	}
}

// payload names the header field loaded, consuming the protocol match nft
// added as its dependency.
func (p *nftPrinter) payload(e *expr.Payload) {
	if e.OperationType != expr.PayloadLoad {
		p.fail("payload write")
		return
	}
	switch e.Base {
	case expr.PayloadBaseNetworkHeader:
		p.networkField(e)
	case expr.PayloadBaseTransportHeader:
		p.transportField(e)
	default:
		p.fail("link layer payload")
	}
}

func (p *nftPrinter) networkFamily() nftables.TableFamily {
	switch {
	case p.table.Family != nftables.TableFamilyINet:
		return p.table.Family
	case p.nf >= 0:
		p.stmts[p.nf].elided = true
		return nftables.TableFamily(p.nfproto)
	}
	return nftables.TableFamilyUnspecified
}

func (p *nftPrinter) networkField(e *expr.Payload) {
	type field struct {
		off, len uint32
		name     string
		format   func([]byte) string
	}
	fields := map[nftables.TableFamily][]field{
		nftables.TableFamilyIPv4: {{9, 1, "ip protocol", protoText}, {12, 4, "ip saddr", addrText}, {16, 4, "ip daddr", addrText}},
		nftables.TableFamilyIPv6: {{6, 1, "ip6 nexthdr", protoText}, {8, 16, "ip6 saddr", addrText}, {24, 16, "ip6 daddr", addrText}},
	}
	for _, f := range fields[p.networkFamily()] {
		if e.Offset == f.off && e.Len <= f.len {
			p.ld = nftLoad{field: f.name, format: f.format}
			if e.Len < f.len && f.len > 1 {
				p.ld.mask = prefixMask(int(e.Len), int(f.len))
			}
			return
		}
	}
	p.fail(fmt.Sprintf("network header offset %d", e.Offset))
}

// prefixMask is the mask of a prefix of n whole bytes in a field of size.
func prefixMask(n, size int) []byte {
	m := make([]byte, size)
	for i := range n {
		m[i] = 0xff
	}
	return m
}

func (p *nftPrinter) transportField(e *expr.Payload) {
	proto := "th"
	if p.l4 >= 0 {
		switch p.l4proto {
		case protoTCP:
			proto = "tcp"
		case protoUDP:
			proto = "udp"
		}
		p.stmts[p.l4].elided = true
	}
	switch {
	case e.Offset == 0 && e.Len == 2:
		p.ld = nftLoad{field: proto + " sport", format: portText}
	case e.Offset == 2 && e.Len == 2:
		p.ld = nftLoad{field: proto + " dport", format: portText}
	default:
		p.fail(fmt.Sprintf("transport header offset %d", e.Offset))
	}
}

func cmpOp(op expr.CmpOp) string {
	return [...]string{"", "!= ", "< ", "<= ", "> ", ">= "}[min(int(op), 5)]
}

func rangeOp(op expr.CmpOp) string {
	if op == expr.CmpOpNeq {
		return "!= "
	}
	return ""
}

func (p *nftPrinter) cmp(e *expr.Cmp) {
	ld := p.ld
	switch {
	case ld.ct:
		p.ctState(e)
	case ld.mask != nil:
		p.maskedCmp(e)
	case e.Op == expr.CmpOpGte:
		p.ld.gte = e.Data // nft prints a >= and <= pair as a range
	case e.Op == expr.CmpOpLte && ld.gte != nil:
		p.emit(ld.field + " " + ld.format(ld.gte) + "-" + ld.format(e.Data))
		p.ld.gte = nil
	default:
		p.emit(ld.field + " " + cmpOp(e.Op) + ld.format(e.Data))
		p.noteDependency(e)
	}
}

// noteDependency remembers an l4proto or nfproto equality, which a later
// header match makes a dependency nft does not print.
func (p *nftPrinter) noteDependency(e *expr.Cmp) {
	if e.Op != expr.CmpOpEq || len(e.Data) != 1 {
		return
	}
	switch p.ld.field {
	case "meta l4proto":
		p.l4, p.l4proto = len(p.stmts)-1, e.Data[0]
	case "meta nfproto":
		p.nf, p.nfproto = len(p.stmts)-1, e.Data[0]
	}
}

func (p *nftPrinter) maskedCmp(e *expr.Cmp) {
	ld := p.ld
	if bits, ok := prefixLen(ld.mask); ok && (e.Op == expr.CmpOpEq || e.Op == expr.CmpOpNeq) {
		full := make([]byte, len(ld.mask))
		copy(full, e.Data)
		p.emit(ld.field + " " + cmpOp(e.Op) + ld.format(full) + "/" + strconv.Itoa(bits))
		return
	}
	op := "== "
	if e.Op == expr.CmpOpNeq {
		op = "!= "
	}
	p.emit(ld.field + " & " + ld.format(ld.mask) + " " + op + ld.format(e.Data))
}

// ct state bits in the order nft prints them.
var ctStateNames = []struct {
	bit  uint32
	name string
}{{1, "invalid"}, {2, "established"}, {4, "related"}, {8, "new"}, {64, "untracked"}}

func (p *nftPrinter) ctState(e *expr.Cmp) {
	if len(e.Data) != 4 {
		p.fail("ct state comparison")
		return
	}
	if p.ld.mask == nil { // "ct state != established" compares the value
		p.emit("ct state " + cmpOp(e.Op) + ctStateText(binary.NativeEndian.Uint32(e.Data)))
		return
	}
	zero := binary.NativeEndian.Uint32(e.Data) == 0
	if len(p.ld.mask) < 4 || !zero || (e.Op != expr.CmpOpNeq && e.Op != expr.CmpOpEq) {
		p.fail("ct state comparison")
		return
	}
	op := ""
	if e.Op == expr.CmpOpEq {
		op = "!= "
	}
	p.emit("ct state " + op + ctStateText(binary.NativeEndian.Uint32(p.ld.mask)))
}

func ctStateText(bits uint32) string {
	var names []string
	for _, s := range ctStateNames {
		if bits&s.bit != 0 {
			names = append(names, s.name)
		}
	}
	return strings.Join(names, ",")
}

func (p *nftPrinter) lookup(e *expr.Lookup) {
	if e.IsDestRegSet {
		p.fail("map lookup")
		return
	}
	op := ""
	if e.Invert {
		op = "!= "
	}
	set := p.table.Sets[e.SetName]
	if set == nil || !set.Anonymous {
		p.emit(p.ld.field + " " + op + "@" + e.SetName)
		return
	}
	p.emit(p.ld.field + " " + op + p.setText(set))
}

// setText prints an anonymous set's elements, sorted as nft prints them,
// an interval as "a-b".
func (p *nftPrinter) setText(s *Set) string {
	if s.Truncated {
		p.fail("set " + s.Name)
		return "{ ... }"
	}
	els := slices.Clone(s.Elements)
	slices.SortFunc(els, func(a, b nftables.SetElement) int { return bytes.Compare(a.Key, b.Key) })
	var items []string
	for i := 0; i < len(els); i++ {
		if els[i].IntervalEnd {
			continue
		}
		item := p.ld.format(els[i].Key)
		if s.Interval && i+1 < len(els) && els[i+1].IntervalEnd {
			if last := decrement(els[i+1].Key); !bytes.Equal(last, els[i].Key) {
				item += "-" + p.ld.format(last)
			}
			i++
		}
		items = append(items, item)
	}
	return "{ " + strings.Join(items, ", ") + " }"
}

// decrement returns b - 1 as a big-endian number: an interval's exclusive
// end made inclusive.
func decrement(b []byte) []byte {
	out := slices.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]--
		if out[i] != 0xff {
			break
		}
	}
	return out
}

// statement prints the statements that are not matches.
func (p *nftPrinter) statement(e expr.Any) {
	switch e := e.(type) {
	case *expr.Counter:
		p.emit(fmt.Sprintf("counter packets %d bytes %d", e.Packets, e.Bytes))
	case *expr.Log:
		s := "log"
		if len(e.Data) > 0 {
			s += " prefix " + strconv.Quote(cString(e.Data))
		}
		p.emit(s)
	case *expr.Verdict:
		p.emit(nftVerdict(e))
	case *expr.Reject:
		p.emit(p.rejectText(e))
	default:
		p.fail(exprName(e))
		p.emit(p.ld.field)
	}
}

func nftVerdict(e *expr.Verdict) string {
	switch e.Kind {
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictAccept:
		return "accept"
	case expr.VerdictReturn:
		return "return"
	case expr.VerdictContinue:
		return "continue"
	case expr.VerdictJump:
		return "jump " + e.Chain
	case expr.VerdictGoto:
		return "goto " + e.Chain
	case expr.VerdictQueue:
		return "queue"
	}
	return "[verdict " + strconv.Itoa(int(e.Kind)) + "]"
}

// nft's names of ICMP, ICMPv6 and ICMPX unreachable codes.
var (
	nftICMPCodes     = map[uint8]string{0: "net-unreachable", 1: "host-unreachable", 2: "prot-unreachable", 3: "port-unreachable", 9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited"}
	nftICMP6Codes    = map[uint8]string{0: "no-route", 1: "admin-prohibited", 3: "addr-unreachable", 4: "port-unreachable", 5: "policy-fail", 6: "reject-route"}
	nftICMPXCodes    = map[uint8]string{0: "no-route", 1: "port-unreachable", 2: "host-unreachable", 3: "admin-prohibited"}
	icmpPortUnreach  = uint8(3)
	icmp6PortUnreach = uint8(4)
	icmpxPortUnreach = uint8(1)
)

// rejectText prints a reject statement; the family's port-unreachable
// default is a plain "reject".
func (p *nftPrinter) rejectText(e *expr.Reject) string {
	switch e.Type {
	case rejectTCPReset:
		return "reject with tcp reset"
	case rejectICMPXUnreach:
		if e.Code == icmpxPortUnreach {
			return "reject"
		}
		return "reject with icmpx " + codeName(nftICMPXCodes, e.Code)
	case rejectICMPUnreach:
		if p.networkFamily() == nftables.TableFamilyIPv6 {
			if e.Code == icmp6PortUnreach && p.table.Family == nftables.TableFamilyIPv6 {
				return "reject"
			}
			return "reject with icmpv6 " + codeName(nftICMP6Codes, e.Code)
		}
		if e.Code == icmpPortUnreach && p.table.Family == nftables.TableFamilyIPv4 {
			return "reject"
		}
		return "reject with icmp " + codeName(nftICMPCodes, e.Code)
	}
	p.fail("reject type " + strconv.Itoa(int(e.Type)))
	return "reject"
}

func codeName(names map[uint8]string, c uint8) string {
	if n, ok := names[c]; ok {
		return n
	}
	return strconv.Itoa(int(c))
}

func (p *nftPrinter) String() string {
	var parts []string
	for _, s := range p.stmts {
		if !s.elided {
			parts = append(parts, s.text)
		}
	}
	out := strings.Join(parts, " ")
	if len(p.unsupported) > 0 {
		out += " [unsupported expression: " + strings.Join(p.unsupported, ", ") + "]"
	}
	return out
}

// Value formats of the fields printed.

func protoText(b []byte) string {
	names := map[byte]string{1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp", 136: "udplite", 50: "esp", 51: "ah", 47: "gre", 33: "dccp"}
	if len(b) != 1 {
		return hexText(b)
	}
	if n, ok := names[b[0]]; ok {
		return n
	}
	return strconv.Itoa(int(b[0]))
}

func nfprotoText(b []byte) string {
	switch {
	case len(b) == 1 && b[0] == byte(nftables.TableFamilyIPv4):
		return "ipv4"
	case len(b) == 1 && b[0] == byte(nftables.TableFamilyIPv6):
		return "ipv6"
	}
	return hexText(b)
}

func ifnameText(b []byte) string {
	name := cString(b)
	if len(name) == len(b) {
		name += "*" // stored without its NUL: a prefix
	}
	return strconv.Quote(name)
}

func markText(b []byte) string {
	if len(b) != 4 {
		return hexText(b)
	}
	return fmt.Sprintf("0x%08x", binary.NativeEndian.Uint32(b))
}

func addrText(b []byte) string {
	if a, ok := netip.AddrFromSlice(b); ok {
		return a.String()
	}
	return hexText(b)
}

func portText(b []byte) string {
	if len(b) != 2 {
		return hexText(b)
	}
	return strconv.Itoa(int(binary.BigEndian.Uint16(b)))
}

func hexText(b []byte) string { return fmt.Sprintf("0x%x", b) }
