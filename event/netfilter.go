package event

import "strings"

// Certainty values of Netfilter.Certainty, strongest first.
const (
	CertaintyExact      = "exact"      // the kernel named the rule
	CertaintyCounter    = "counter"    // the only rule that may have dropped the packet and whose counter moved
	CertaintyReplayed   = "replayed"   // the ruleset, evaluated on the packet's headers, has exactly one rule that drops it
	CertaintyCandidates = "candidates" // several rules may have: see Candidates
)

// Netfilter names the firewall rule (or chain policy) that dropped a
// NETFILTER_DROP packet, and how certain that is. With Certainty
// "candidates" the fields outside Candidates are those all candidates
// share, empty where they differ.
type Netfilter struct {
	Hook       string             `json:"hook"`   // "prerouting", "input", "forward", "output", "postrouting"
	Family     string             `json:"family"` // table family: "ip", "ip6", "inet"
	Table      string             `json:"table"`
	Chain      string             `json:"chain"`
	Verdict    string             `json:"verdict"`               // "DROP" or "REJECT"
	RejectWith string             `json:"reject_with,omitempty"` // e.g. "tcp-reset", "icmp-port-unreachable", "icmp6-adm-prohibited"
	Rule       *NetfilterRule     `json:"rule,omitempty"`        // nil when the chain's policy dropped
	Policy     bool               `json:"policy"`                // the chain's policy dropped
	Certainty  string             `json:"certainty"`
	Candidates []NetfilterVerdict `json:"candidates,omitempty"`
	Reply      *NetfilterReply    `json:"reply,omitempty"`    // the RST or ICMP error a REJECT sent, when seen
	CtState    string             `json:"ct_state,omitempty"` // the packet's conntrack state at the drop, as the rules saw it: "new", "established", ...; "" when not read
}

// NetfilterRule is a rule as its chain lists it.
type NetfilterRule struct {
	Handle   uint64 `json:"handle"`
	Position int    `json:"position"` // 1 for the chain's first rule, as iptables numbers them
	Text     string `json:"text"`     // as iptables -S or nft list ruleset prints it
	Comment  string `json:"comment,omitempty"`
}

// NetfilterVerdict is one candidate of an attribution.
type NetfilterVerdict struct {
	Hook       string         `json:"hook"`
	Family     string         `json:"family"`
	Table      string         `json:"table"`
	Chain      string         `json:"chain"`
	Verdict    string         `json:"verdict"`
	RejectWith string         `json:"reject_with,omitempty"`
	Rule       *NetfilterRule `json:"rule,omitempty"`
	Policy     bool           `json:"policy"`
}

// NetfilterReply is the packet a REJECT sent back: an ICMP or ICMPv6
// error (type, code) or a TCP RST (type "tcp-reset").
type NetfilterReply struct {
	Type string `json:"type"`
	Code uint8  `json:"code"`
}

// CtStateName names nft's ct state bits as nft prints them, "" for 0.
func CtStateName(bits uint8) string {
	var names []string
	for i, n := range [...]string{"invalid", "established", "related", "new", "", "", "untracked"} {
		if bits&(1<<i) != 0 && n != "" {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// ReplySeen is a packet the kernel sent back to a dropped packet's sender
// just before the drop, on its CPU: an ICMP or ICMPv6 error (Proto "icmp"
// or "icmp6", with its type and code) or a TCP RST (Proto "tcp"), as a
// REJECT sends them.
type ReplySeen struct {
	Proto      string
	Type, Code uint8
}

// KernelRule is the nftables rule, or base chain policy, that the kernel
// itself reported dropping a NETFILTER_DROP packet (at
// __nft_trace_packet, with kprobes or fentry and the nftables trace key
// on). Names longer than 31 bytes are cut to 31.
type KernelRule struct {
	Family uint8  // the table's family, NFPROTO_* (inet 1, ip 2, ip6 10, ...)
	Hook   uint8  // the hook the packet was at (NF_INET_*; netdev: ingress 0, egress 1)
	Table  string // the rule's table
	Chain  string // its chain; "" when the kernel's rule blob was too long to walk
	Handle uint64 // the rule's handle; 0 for a policy
	Policy bool   // the base chain's policy dropped the packet
}
