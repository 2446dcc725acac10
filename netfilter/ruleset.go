package netfilter

import (
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Ruleset is one read of a network namespace's nftables ruleset, with the
// counters as they were during the read.
type Ruleset struct {
	Tables []*Table
	Start  time.Time // when the read began: counters include every packet before
	End    time.Time // when it finished
	// CtInvalid counts the packets conntrack found invalid in the
	// namespace, read before the ruleset; CtInvalidKnown is false when
	// it could not be read (no conntrack in the namespace).
	CtInvalid      uint64
	CtInvalidKnown bool

	tracks *bool // tracksConnections, once asked
}

// tracksConnections says whether a rule of the ruleset needs conntrack
// (ct expressions, NAT, xt conntrack and state): without one, a
// namespace's packets usually have no conntrack entry, which the kernel
// calls invalid, though nothing found them so.
func (rs *Ruleset) tracksConnections() bool {
	if rs.tracks != nil {
		return *rs.tracks
	}
	tracks := false
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			tracks = tracks || c.Type == "nat"
			for _, r := range c.Rules {
				tracks = tracks || ruleTracks(r)
			}
		}
	}
	rs.tracks = &tracks
	return tracks
}

func ruleTracks(r *Rule) bool {
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Ct, *expr.NAT, *expr.Masq, *expr.Redir:
			return true
		case *expr.Match:
			if e.Name == "conntrack" || e.Name == "state" {
				return true
			}
		case *expr.Target:
			if e.Name == "CT" || e.Name == "MASQUERADE" || e.Name == "SNAT" || e.Name == "DNAT" {
				return true
			}
		}
	}
	return false
}

// Table is an nftables table; iptables-nft keeps each iptables table
// (filter, nat, mangle, raw) as one of family ip or ip6.
type Table struct {
	Name   string
	Family nftables.TableFamily
	Chains []*Chain
	Sets   map[string]*Set
	// Legacy says the table is an x_tables one (iptables-legacy), read
	// by getsockopt: its rules have no handle.
	Legacy bool
}

// Chain is a chain of a table. A base chain has a hook and a policy.
type Chain struct {
	Table    *Table
	Name     string
	Handle   uint64
	Base     bool
	Hook     uint32 // NF_INET_* (prerouting 0 ... postrouting 4); netdev: ingress 0, egress 1
	Priority int32
	Type     string // "filter", "nat", "route"
	// PolicyDrop is a base chain's policy: drop (true) or accept.
	PolicyDrop bool
	// HasCounters says the base chain counts the packets its policy
	// decided (iptables-nft base chains do; nft ones do not).
	HasCounters    bool
	Packets, Bytes uint64
	Rules          []*Rule
}

// Rule is a rule of a chain.
type Rule struct {
	Chain    *Chain
	Handle   uint64
	Position int // 1 for the first rule of its chain, as iptables numbers rules
	Exprs    []expr.Any
	// HasCounter says the rule has a counter expression; Packets and
	// Bytes are its values.
	HasCounter     bool
	Packets, Bytes uint64
	// CounterAfterMatches says the counter follows every match of the
	// rule (as iptables-nft places it), so it counts only packets the
	// rule matched; a counter before a match counts packets it tested.
	CounterAfterMatches bool
	Comment             string // from an xt comment match or the rule's userdata

	ident uint64 // an x_tables rule's identity across reads (its Handle is its Position)
}

// Set is a named or anonymous set of a table, with its elements.
type Set struct {
	Name      string
	Anonymous bool
	Interval  bool
	KeyType   string // nft's name of the key type, e.g. "ipv4_addr", "inet_service"
	KeyLen    uint32
	Elements  []nftables.SetElement
	Truncated bool // more elements than were read: a miss proves nothing
}

// FamilyName is the name nft gives a table family ("ip", "ip6", "inet", ...).
func FamilyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return "unknown"
}

// Hook numbers of the ip, ip6 and inet families (NF_INET_*).
const (
	HookPrerouting uint32 = iota
	HookInput
	HookForward
	HookOutput
	HookPostrouting
)

var hookNames = [...]string{"prerouting", "input", "forward", "output", "postrouting"}

// HookName names a chain's hook as nft does, "" for a regular chain.
func (c *Chain) HookName() string {
	if !c.Base {
		return ""
	}
	return HookName(c.Table.Family, c.Hook)
}

// HookName names hook number h of family f as nft does.
func HookName(f nftables.TableFamily, h uint32) string {
	switch {
	case f == nftables.TableFamilyNetdev:
		return [...]string{"ingress", "egress", "unknown"}[min(h, 2)]
	case int(h) < len(hookNames):
		return hookNames[h]
	}
	return "unknown"
}

// Chain returns the table's chain called name, nil when there is none.
func (t *Table) Chain(name string) *Chain {
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// ID names the rule as the metrics label does: "table/chain/handle".
func (r *Rule) ID() string {
	return r.Chain.Table.Name + "/" + r.Chain.Name + "/" + uitoa(r.Handle)
}
