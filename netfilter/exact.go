package netfilter

import (
	"strings"
	"time"

	"github.com/google/nftables"

	"github.com/droptrace/droptrace/event"
)

// kernelNameMax is the longest table or chain name the kernel's report
// carries whole (bpf/event.h NFT_NAME_LEN, less its NUL): a name this long
// may have been cut.
const kernelNameMax = 31

// annotateExact names the rule (or policy) the kernel itself reported
// dropping the packet, with certainty exact: table, chain, handle and hook
// from the kernel, the rest (text, position, comment, REJECT and its
// type) from the namespace's ruleset when it can be read.
func (a *Annotator) annotateExact(ev *event.Event, now time.Time) {
	kr := ev.KernelRule
	fam := nftables.TableFamily(kr.Family)
	nf := &event.Netfilter{Hook: HookName(fam, uint32(kr.Hook)), Family: FamilyName(fam), Table: kr.Table,
		Chain: kr.Chain, Verdict: "DROP", Policy: kr.Policy, Certainty: event.CertaintyExact}
	if !kr.Policy {
		nf.Rule = &event.NetfilterRule{Handle: kr.Handle}
	}
	rs := a.exactRuleset(ev.Netns, kr, now)
	if rs != nil {
		complete(nf, rs, kr, ev.Src.Is6() && !ev.Src.Is4In6())
		if ev.CTState != ctStateInvalid || rs.tracksConnections() {
			nf.CtState = event.CtStateName(ev.CTState)
		}
	}
	nf.Reply = replyOf(ev.Reply)
	ev.Netfilter = nf
	a.count(nf)
}

// exactRuleset returns a read of the namespace's ruleset that has the
// kernel's rule: the last one, or a new one when the last lacks it (the
// ruleset changed since) and the budget allows; nil when there is none.
func (a *Annotator) exactRuleset(netns uint32, kr *event.KernelRule, now time.Time) *Ruleset {
	if netns == 0 {
		return nil
	}
	st, err := a.namespace(netns, now)
	if err != nil {
		a.stats.Failed++
		return nil
	}
	if st == nil {
		a.stats.ReadsSkipped++ // too many namespaces held
		return nil
	}
	var last *Ruleset
	if n := len(st.reads); n > 0 {
		last = st.reads[n-1]
		if _, _, ok := findKernelRule(last, kr); ok {
			return last
		}
	}
	if !a.mayRead(st, now) {
		a.stats.ReadsSkipped++
		return last
	}
	if err := a.read(st); err != nil {
		a.stats.Failed++
		return last
	}
	return st.reads[len(st.reads)-1]
}

// complete fills nf from the ruleset's copy of the kernel's rule: the
// whole names, and for a rule its position, text, comment and verdict.
func complete(nf *event.Netfilter, rs *Ruleset, kr *event.KernelRule, ipv6 bool) {
	c, r, ok := findKernelRule(rs, kr)
	if !ok {
		return
	}
	nf.Table, nf.Chain = c.Table.Name, c.Name
	if r == nil {
		return
	}
	nf.Rule = &event.NetfilterRule{Handle: r.Handle, Position: r.Position, Text: RuleText(r), Comment: r.Comment}
	if v := RuleVerdict(r); v.Action == ActReject {
		nf.Verdict = "REJECT"
		nf.RejectWith = v.RejectWith(c.Table.Family, ipv6)
	}
}

// findKernelRule finds the kernel's rule in rs: its chain, and the rule
// (nil for a policy). A rule's handle is unique in its table, so a chain
// the kernel did not name is found by it.
func findKernelRule(rs *Ruleset, kr *event.KernelRule) (*Chain, *Rule, bool) {
	for _, t := range rs.Tables {
		if uint8(t.Family) != kr.Family || !sameName(t.Name, kr.Table) {
			continue
		}
		for _, c := range t.Chains {
			if kr.Chain != "" && !sameName(c.Name, kr.Chain) {
				continue
			}
			if kr.Policy {
				if c.Base {
					return c, nil, true
				}
				continue
			}
			for _, r := range c.Rules {
				if r.Handle == kr.Handle {
					return c, r, true
				}
			}
		}
	}
	return nil, nil, false
}

// sameName says whether name is the kernel's, which may have been cut.
func sameName(name, kernel string) bool {
	if len(kernel) >= kernelNameMax {
		return strings.HasPrefix(name, kernel)
	}
	return name == kernel
}
