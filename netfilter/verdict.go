package netfilter

import (
	"encoding/binary"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// Action is what a rule does to a packet that matches it.
type Action uint8

const (
	ActContinue Action = iota // no verdict: the next rule is evaluated
	ActAccept
	ActDrop
	ActReject
	ActJump
	ActGoto
	ActReturn
	ActOther // queue, stolen, a target not known here: the packet leaves the ruleset's hands
)

// Drops says whether the action drops the packet (drop, reject).
func (a Action) Drops() bool { return a == ActDrop || a == ActReject }

// Verdict is a rule's verdict statement.
type Verdict struct {
	Action Action
	Target string // jump and goto: the chain

	reject   *expr.Reject // a REJECT by an nft reject expression
	xtReject int          // a REJECT by the xt REJECT target: its "with" value; -1 when none
}

// isTerminal says whether e is the rule's verdict statement.
func isTerminal(e expr.Any) bool {
	switch e := e.(type) {
	case *expr.Verdict, *expr.Reject:
		return true
	case *expr.Target:
		return e.Name != "LOG" && e.Name != "NFLOG" && e.Name != "MARK" && e.Name != "CONNMARK"
	}
	return false
}

// RuleVerdict returns what the rule does to a packet it matches.
func RuleVerdict(r *Rule) Verdict {
	for _, e := range r.Exprs {
		if !isTerminal(e) {
			continue
		}
		switch e := e.(type) {
		case *expr.Verdict:
			return verdictOf(e)
		case *expr.Reject:
			return Verdict{Action: ActReject, reject: e, xtReject: -1}
		case *expr.Target:
			return targetVerdict(e)
		}
	}
	return Verdict{Action: ActContinue, xtReject: -1}
}

func verdictOf(e *expr.Verdict) Verdict {
	v := Verdict{xtReject: -1}
	switch e.Kind {
	case expr.VerdictDrop:
		v.Action = ActDrop
	case expr.VerdictAccept:
		v.Action = ActAccept
	case expr.VerdictJump:
		v.Action, v.Target = ActJump, e.Chain
	case expr.VerdictGoto:
		v.Action, v.Target = ActGoto, e.Chain
	case expr.VerdictReturn:
		v.Action = ActReturn
	case expr.VerdictContinue:
		v.Action = ActContinue
	default:
		v.Action = ActOther
	}
	return v
}

func targetVerdict(e *expr.Target) Verdict {
	v := Verdict{Action: ActOther, xtReject: -1}
	if e.Name != "REJECT" {
		return v
	}
	// struct ipt_reject_info and ip6t_reject_info: one u32 "with", in
	// host byte order.
	if raw, ok := e.Info.(*xt.Unknown); ok && len(*raw) >= 4 {
		v.Action = ActReject
		v.xtReject = int(binary.NativeEndian.Uint32((*raw)[:4]))
	}
	return v
}

// xt REJECT "with" values (enum ipt_reject_with, enum ip6t_reject_with) as
// iptables -S and ip6tables -S name them.
var (
	xtReject4 = []string{"icmp-net-unreachable", "icmp-host-unreachable", "icmp-proto-unreachable",
		"icmp-port-unreachable", "icmp-echo-reply", "icmp-net-prohibited", "icmp-host-prohibited",
		"tcp-reset", "icmp-admin-prohibited"}
	xtReject6 = []string{"icmp6-no-route", "icmp6-adm-prohibited", "icmp6-not-neighbour",
		"icmp6-addr-unreachable", "icmp6-port-unreachable", "icmp6-echo-reply", "tcp-reset",
		"icmp6-policy-fail", "icmp6-reject-route"}
)

// nft reject types (enum nft_reject_types) and ICMPX codes.
const (
	rejectICMPUnreach  = 0
	rejectTCPReset     = 1
	rejectICMPXUnreach = 2
)

// RejectWith names the reply a REJECT sends, as iptables names it
// ("tcp-reset", "icmp-port-unreachable", "icmp6-adm-prohibited", ...),
// for a packet of family ipv6 or not; "" for other verdicts.
func (v Verdict) RejectWith(fam nftables.TableFamily, ipv6 bool) string {
	switch {
	case v.xtReject >= 0:
		names := xtReject4
		if fam == nftables.TableFamilyIPv6 {
			names = xtReject6
		}
		if v.xtReject < len(names) {
			return names[v.xtReject]
		}
		return "unknown"
	case v.reject != nil:
		return nftRejectWith(v.reject, ipv6)
	}
	return ""
}

func nftRejectWith(r *expr.Reject, ipv6 bool) string {
	switch r.Type {
	case rejectTCPReset:
		return "tcp-reset"
	case rejectICMPXUnreach:
		names4 := []string{"icmp-net-unreachable", "icmp-port-unreachable", "icmp-host-unreachable", "icmp-admin-prohibited"}
		names6 := []string{"icmp6-no-route", "icmp6-port-unreachable", "icmp6-addr-unreachable", "icmp6-adm-prohibited"}
		if int(r.Code) >= len(names4) {
			return "unknown"
		}
		if ipv6 {
			return names6[r.Code]
		}
		return names4[r.Code]
	case rejectICMPUnreach:
		if ipv6 {
			return icmp6CodeName(r.Code)
		}
		return icmpCodeName(r.Code)
	}
	return "unknown"
}

// icmpCodeName names an ICMP destination-unreachable code as iptables does.
func icmpCodeName(code uint8) string {
	switch code {
	case 0, 1, 2, 3:
		return xtReject4[code]
	case 9:
		return "icmp-net-prohibited"
	case 10:
		return "icmp-host-prohibited"
	case 13:
		return "icmp-admin-prohibited"
	}
	return "icmp-code-" + uitoa(uint64(code))
}

// icmp6CodeName names an ICMPv6 destination-unreachable code as ip6tables does.
func icmp6CodeName(code uint8) string {
	names := map[uint8]string{0: "icmp6-no-route", 1: "icmp6-adm-prohibited", 2: "icmp6-not-neighbour",
		3: "icmp6-addr-unreachable", 4: "icmp6-port-unreachable", 5: "icmp6-policy-fail", 6: "icmp6-reject-route"}
	if n, ok := names[code]; ok {
		return n
	}
	return "icmp6-code-" + uitoa(uint64(code))
}
