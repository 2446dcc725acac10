package netfilter

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// xtLayout is where struct ipt_entry (ip6t_entry) keeps its fields:
// struct ipt_ip (ip6t_ip6) first, then target_offset, next_offset and
// the counters, then the matches and the target.
type xtLayout struct {
	addrLen                            int
	src, dst, smsk, dmsk               int
	iniface, outiface, inMask, outMask int
	proto, flags, invflags             int
	targetOffset, nextOffset, counters int
	size                               int   // sizeof(struct ipt_entry): where the matches start
	gotoFlag, fragFlag                 uint8 // IPT_F_GOTO, IPT_F_FRAG (ip6t: IP6T_F_GOTO, none)
}

var (
	iptLayout = xtLayout{addrLen: 4, src: 0, dst: 4, smsk: 8, dmsk: 12, iniface: 16, outiface: 32, inMask: 48, outMask: 64,
		proto: 80, flags: 82, invflags: 83, targetOffset: 88, nextOffset: 90, counters: 96, size: 112, gotoFlag: 0x02, fragFlag: 0x01}
	ip6tLayout = xtLayout{addrLen: 16, src: 0, dst: 16, smsk: 32, dmsk: 48, iniface: 64, outiface: 80, inMask: 96, outMask: 112,
		proto: 128, flags: 131, invflags: 132, targetOffset: 140, nextOffset: 142, counters: 152, size: 168, gotoFlag: 0x04}
)

// IPT_INV_* (IP6T_INV_* alike).
const (
	xtInvViaIn  = 0x01
	xtInvViaOut = 0x02
	xtInvSrcIP  = 0x08
	xtInvDstIP  = 0x10
	xtInvFrag   = 0x20
	xtInvProto  = 0x40
)

// xtMatchHead is sizeof(struct xt_entry_match) and of xt_entry_target:
// a u16 size, a 29-byte name, a revision, then the data.
const xtMatchHead = 32

// Standard verdicts: -NF_DROP-1, -NF_ACCEPT-1, -NF_QUEUE-1, XT_RETURN
// (-NF_REPEAT-1).
const (
	xtVerdictDrop   = -1
	xtVerdictAccept = -2
	xtVerdictQueue  = -4
	xtVerdictReturn = -5
)

// legacyPriority is the hook priority of each x_tables table (NF_IP_PRI_*).
var legacyPriority = map[string]int32{"raw": -300, "mangle": -150, "filter": 0, "security": 50}

// builtinChains names the chains of the hooks (NF_INET_*) as iptables does.
var builtinChains = [...]string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}

// xtEntry is one entry of a table's blob.
type xtEntry struct {
	off, next  int // offset in the blob, and of the next entry
	b          []byte
	target     string
	targetRev  uint32
	targetData []byte
	pcnt, bcnt uint64
}

// xtInfo is struct ipt_getinfo: the table's name, hooks, and where each
// hook's chain starts (hook_entry) and its policy is (underflow).
type xtInfo struct {
	name             string
	validHooks       uint32
	hookEntry, under [5]int
}

func parseInfo(b []byte) (xtInfo, error) {
	if len(b) < xtGetinfoSize {
		return xtInfo{}, fmt.Errorf("x_tables info: %d bytes, want %d", len(b), xtGetinfoSize)
	}
	in := xtInfo{name: cString(b[:xtTableNameLen]), validHooks: binary.NativeEndian.Uint32(b[32:])}
	for h := range 5 {
		in.hookEntry[h] = int(binary.NativeEndian.Uint32(b[36+4*h:]))
		in.under[h] = int(binary.NativeEndian.Uint32(b[56+4*h:]))
	}
	return in, nil
}

// parseLegacy turns a dumped x_tables table into the Table the replay
// walks: builtin chains with their policies and policy counters, user
// chains, and rules whose ipt_ip part becomes the payload, meta and cmp
// expressions iptables-nft would have made, with xt matches and targets
// as iptables-nft's compat expressions carry them.
func parseLegacy(d legacyDump) (*Table, error) {
	in, err := parseInfo(d.info)
	if err != nil {
		return nil, err
	}
	lay := &iptLayout
	if d.family == nftables.TableFamilyIPv6 {
		lay = &ip6tLayout
	}
	entries, err := lay.split(d.entries)
	if err != nil {
		return nil, fmt.Errorf("x_tables %s %s: %w", FamilyName(d.family), in.name, err)
	}
	t := &Table{Name: in.name, Family: d.family, Legacy: true, Sets: map[string]*Set{}}
	lc := &legacyChains{t: t, lay: lay, entries: entries, chainAt: userChainStarts(entries), seen: map[identKey]int{}}
	lc.builtins(in)
	lc.users(in)
	return t, nil
}

// split cuts the blob into its entries.
func (lay *xtLayout) split(b []byte) ([]*xtEntry, error) {
	var out []*xtEntry
	for off := 0; off < len(b); {
		if len(b)-off < lay.size {
			return nil, fmt.Errorf("entry at %d: %d bytes left, want %d", off, len(b)-off, lay.size)
		}
		e := b[off:]
		tOff := int(binary.NativeEndian.Uint16(e[lay.targetOffset:]))
		next := int(binary.NativeEndian.Uint16(e[lay.nextOffset:]))
		if tOff < lay.size || tOff+xtMatchHead > next || next > len(e) {
			return nil, fmt.Errorf("entry at %d: target at %d, next at %d, %d bytes", off, tOff, next, len(e))
		}
		e = e[:next]
		t := e[tOff:]
		tSize := int(binary.NativeEndian.Uint16(t))
		if tSize < xtMatchHead || tSize > len(t) {
			return nil, fmt.Errorf("entry at %d: target of %d bytes", off, tSize)
		}
		out = append(out, &xtEntry{off: off, next: off + next, b: e, target: cString(t[2:31]), targetRev: uint32(t[31]),
			targetData: t[xtMatchHead:tSize], pcnt: binary.NativeEndian.Uint64(e[lay.counters:]),
			bcnt: binary.NativeEndian.Uint64(e[lay.counters+8:])})
		off += next
	}
	return out, nil
}

// userChainStarts maps the offset of each user chain's first entry (where
// jumps to it point) to its name.
func userChainStarts(entries []*xtEntry) map[int]string {
	m := map[int]string{}
	for _, e := range entries {
		if name, ok := e.chainHead(); ok {
			m[e.next] = name
		}
	}
	return m
}

// chainHead says whether the entry starts a user chain (an ERROR target
// named by the chain; the table's last entry is one named "ERROR").
func (e *xtEntry) chainHead() (string, bool) {
	if e.target != "ERROR" {
		return "", false
	}
	name := cString(e.targetData)
	return name, name != "ERROR"
}

// standardVerdict is a standard target's verdict; ok is false for
// another target.
func (e *xtEntry) standardVerdict() (v int32, ok bool) {
	if e.target != "" || len(e.targetData) < 4 {
		return 0, false
	}
	return int32(binary.NativeEndian.Uint32(e.targetData)), true
}

// legacyChains builds a table's chains from its entries.
type legacyChains struct {
	t       *Table
	lay     *xtLayout
	entries []*xtEntry
	chainAt map[int]string
	seen    map[identKey]int
}

// builtins adds a chain per hook: its rules from hook_entry up to the
// underflow entry, which holds the policy and the policy's counters.
func (lc *legacyChains) builtins(in xtInfo) {
	for h := range 5 {
		if in.validHooks&(1<<h) == 0 {
			continue
		}
		c := &Chain{Table: lc.t, Name: builtinChains[h], Base: true, Hook: uint32(h), Priority: legacyPriority[in.name],
			Type: "filter", HasCounters: true}
		for _, e := range lc.entries {
			switch {
			case e.off == in.under[h]:
				v, _ := e.standardVerdict()
				c.PolicyDrop, c.Packets, c.Bytes = v == xtVerdictDrop, e.pcnt, e.bcnt
			case e.off >= in.hookEntry[h] && e.off < in.under[h]:
				lc.addRule(c, e)
			}
		}
		lc.t.Chains = append(lc.t.Chains, c)
	}
}

// users adds the user chains: each from its ERROR head to the next head,
// whose last entry is the chain's implicit RETURN, not a rule. Builtin
// chains end a user chain too, wherever a writer put them.
func (lc *legacyChains) users(in xtInfo) {
	var c *Chain
	var body []*xtEntry
	flush := func() {
		if c != nil {
			for _, e := range body[:max(len(body)-1, 0)] {
				lc.addRule(c, e)
			}
			lc.t.Chains = append(lc.t.Chains, c)
		}
	}
	for _, e := range lc.entries {
		if in.builtin(e.off) {
			flush()
			c, body = nil, nil
			continue
		}
		if e.target == "ERROR" {
			flush()
			c, body = nil, nil
			if name, ok := e.chainHead(); ok {
				c = &Chain{Table: lc.t, Name: name}
			}
			continue
		}
		body = append(body, e)
	}
	flush()
}

// builtin says whether the entry at off is a builtin chain's rule or policy.
func (in xtInfo) builtin(off int) bool {
	for h := range 5 {
		if in.validHooks&(1<<h) != 0 && off >= in.hookEntry[h] && off <= in.under[h] {
			return true
		}
	}
	return false
}

func (lc *legacyChains) addRule(c *Chain, e *xtEntry) {
	pos := len(c.Rules) + 1
	r := &Rule{Chain: c, Handle: uint64(pos), Position: pos, HasCounter: true, CounterAfterMatches: true,
		Packets: e.pcnt, Bytes: e.bcnt}
	r.Exprs = lc.lay.headerExprs(e.b)
	r.Exprs = append(r.Exprs, lc.matchExprs(e, r)...)
	r.Exprs = append(r.Exprs, &expr.Counter{Packets: e.pcnt, Bytes: e.bcnt})
	target, desc := lc.targetExpr(e)
	if target != nil {
		r.Exprs = append(r.Exprs, target)
	}
	r.ident = lc.ident(c, e, desc)
	c.Rules = append(c.Rules, r)
}

// ident is the rule's identity across reads, as x_tables rules have no
// handle: a digest of what it matches and does, and how many identical
// rules precede it in its chain.
func (lc *legacyChains) ident(c *Chain, e *xtEntry, target string) uint64 {
	h := fnv.New64a()
	h.Write(e.b[:lc.lay.targetOffset])
	h.Write(e.b[lc.lay.size:binary.NativeEndian.Uint16(e.b[lc.lay.targetOffset:])])
	h.Write([]byte(target))
	base := h.Sum64()
	k := identKey{c.Name, base}
	n := lc.seen[k]
	lc.seen[k] = n + 1
	return base + uint64(n)*0x9e3779b97f4a7c15
}

// identKey counts the identical rules of a chain.
type identKey struct {
	chain string
	base  uint64
}

// matchExprs returns the entry's xt matches; a comment match names the
// rule's comment.
func (lc *legacyChains) matchExprs(e *xtEntry, r *Rule) []expr.Any {
	var out []expr.Any
	end := int(binary.NativeEndian.Uint16(e.b[lc.lay.targetOffset:]))
	for off := lc.lay.size; off+xtMatchHead <= end; {
		m := e.b[off:end]
		size := int(binary.NativeEndian.Uint16(m))
		if size < xtMatchHead || size > len(m) {
			break
		}
		name, rev := cString(m[2:31]), uint32(m[31])
		info, err := xt.Unmarshal(name, xt.TableFamily(lc.t.Family), rev, m[xtMatchHead:size])
		if err != nil {
			raw := xt.Unknown(m[xtMatchHead:size])
			info = &raw
		}
		if c, ok := info.(*xt.Comment); ok {
			r.Comment = string(*c)
		}
		out = append(out, &expr.Match{Name: name, Rev: rev, Info: info})
		off += size
	}
	return out
}

// targetExpr returns the entry's target as the replay and the rule text
// read it (nil for a rule without one), and a description of it that
// does not depend on where chains are in the blob.
func (lc *legacyChains) targetExpr(e *xtEntry) (expr.Any, string) {
	v, ok := e.standardVerdict()
	if !ok {
		raw := xt.Unknown(e.targetData)
		return &expr.Target{Name: e.target, Rev: e.targetRev, Info: &raw}, e.target
	}
	switch v {
	case xtVerdictDrop:
		return &expr.Verdict{Kind: expr.VerdictDrop}, "DROP"
	case xtVerdictAccept:
		return &expr.Verdict{Kind: expr.VerdictAccept}, "ACCEPT"
	case xtVerdictReturn:
		return &expr.Verdict{Kind: expr.VerdictReturn}, "RETURN"
	}
	if v == xtVerdictQueue {
		return &expr.Target{Name: "QUEUE", Info: &xt.Unknown{}}, "QUEUE"
	}
	if v < 0 {
		return &expr.Target{Name: "verdict-" + uitoa(uint64(-v)), Info: &xt.Unknown{}}, "verdict"
	}
	if int(v) == e.next && e.b[lc.lay.flags]&lc.lay.gotoFlag == 0 {
		return nil, "" // no target: the next rule follows
	}
	name, ok := lc.chainAt[int(v)]
	if !ok {
		return &expr.Target{Name: "jump-" + uitoa(uint64(v)), Info: &xt.Unknown{}}, "jump"
	}
	if e.b[lc.lay.flags]&lc.lay.gotoFlag != 0 {
		return &expr.Verdict{Kind: expr.VerdictGoto, Chain: name}, "goto " + name
	}
	return &expr.Verdict{Kind: expr.VerdictJump, Chain: name}, "jump " + name
}
