package netfilter

import (
	"cmp"
	"slices"

	"github.com/google/nftables"
)

// Outcome is a rule, or a chain's policy, that may have dropped a packet.
type Outcome struct {
	Rule  *Rule  // nil: the policy of Chain
	Chain *Chain // the rule's chain, or the base chain whose policy dropped
	Base  *Chain // the base chain the packet was in when it was dropped
}

// counted says whether the outcome's counter moved in the window: the
// rule's counter, or the chain's policy counter.
func (o Outcome) counted(w *window) bool {
	if w == nil {
		return false
	}
	if o.Rule != nil {
		return o.Rule.CounterAfterMatches && w.rulePackets(o.Rule) > 0
	}
	return o.Chain.HasCounters && w.chainPackets(o.Chain) > 0
}

// conntrackPriority is NF_IP_PRI_CONNTRACK: chains after it see the
// packet's conntrack state.
const conntrackPriority = -200

// maxReplaySteps bounds the rules evaluated for one packet.
const (
	maxReplaySteps = 10000
	maxJumpDepth   = 16
)

// replayer walks the base chains a packet passed, listing every rule or
// policy that may have dropped it. A rule that reads what the packet does
// not tell is followed both ways. With a window, a rule whose counter did
// not move in it did not match.
type replayer struct {
	rs       *Ruleset
	w        *window
	steps    int
	outcomes []Outcome
}

// flow is how a walk through a chain may end: with drops (recorded in
// the replayer), accepted, or returning to the chain that jumped.
type flow struct {
	accept, ret bool
}

// replay returns what may have dropped a packet that passed the base
// chains of hooks (in that order); view gives the packet as a hook sees
// it, w (nil when none) the counter window enclosing the drop. complete
// is false when the step bound cut the walk short.
func replay(rs *Ruleset, w *window, hooks []uint32, view func(hook uint32) *Packet) (outs []Outcome, complete bool) {
	rp := &replayer{rs: rs, w: w}
	for _, hook := range hooks {
		pkt := view(hook)
		alive := true
		for _, c := range baseChains(rs, hook, pkt) {
			f := rp.walk(c, c, pkt, 0)
			if !f.accept {
				alive = false
				break
			}
		}
		if !alive {
			break
		}
	}
	return dedup(rp.outcomes), rp.steps < maxReplaySteps
}

// baseChains lists the base chains of hook that see pkt's family, in
// priority order.
func baseChains(rs *Ruleset, hook uint32, pkt *Packet) []*Chain {
	var out []*Chain
	for _, t := range rs.Tables {
		if !familySees(t.Family, pkt) {
			continue
		}
		for _, c := range t.Chains {
			if c.Base && c.Hook == hook {
				out = append(out, c)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *Chain) int { return cmp.Compare(a.Priority, b.Priority) })
	return out
}

func familySees(f nftables.TableFamily, pkt *Packet) bool {
	switch f {
	case nftables.TableFamilyINet:
		return true
	case nftables.TableFamilyIPv4:
		return !pkt.IPv6()
	case nftables.TableFamilyIPv6:
		return pkt.IPv6()
	}
	return false
}

func (rp *replayer) walk(c, base *Chain, pkt *Packet, depth int) flow {
	var out flow
	if base.Priority <= conntrackPriority {
		pkt = pkt.beforeConntrack()
	}
	ev := newEvaluator(pkt, c.Table)
	ev.notInvalid = rp.w != nil && rp.w.noInvalid() && base.Priority > conntrackPriority
	for _, r := range c.Rules {
		rp.steps++
		if rp.steps > maxReplaySteps || depth > maxJumpDepth {
			out.accept, out.ret = true, true // give up: anything may follow
			return out
		}
		m := ev.matches(r)
		if m != no && rp.w != nil && r.HasCounter && rp.w.rulePackets(r) == 0 {
			m = no // its counter did not move: it did not match
		}
		if m == no {
			continue
		}
		taken, goesOn := rp.take(r, base, pkt, depth)
		out.accept = out.accept || taken.accept
		out.ret = out.ret || taken.ret
		if m == yes && !goesOn {
			return out
		}
	}
	if !c.Base {
		out.ret = true
		return out
	}
	if c.PolicyDrop {
		if rp.w == nil || !c.HasCounters || rp.w.chainPackets(c) > 0 {
			rp.outcomes = append(rp.outcomes, Outcome{Chain: c, Base: base})
		}
		return out
	}
	out.accept = true
	return out
}

// take follows the rule's verdict; goesOn says whether evaluation may go
// on with the next rule of the chain.
func (rp *replayer) take(r *Rule, base *Chain, pkt *Packet, depth int) (flow, bool) {
	v := RuleVerdict(r)
	switch v.Action {
	case ActDrop, ActReject:
		rp.outcomes = append(rp.outcomes, Outcome{Rule: r, Chain: r.Chain, Base: base})
		return flow{}, false
	case ActAccept, ActOther:
		return flow{accept: true}, false
	case ActReturn:
		return flow{ret: true}, false
	case ActJump, ActGoto:
		target := r.Chain.Table.Chain(v.Target)
		if target == nil {
			return flow{accept: true, ret: true}, true
		}
		f := rp.walk(target, base, pkt, depth+1)
		if v.Action == ActJump {
			return flow{accept: f.accept}, f.ret
		}
		return f, false
	}
	return flow{}, true // continue, or a rule without a verdict
}

func dedup(outs []Outcome) []Outcome {
	var res []Outcome
	for _, o := range outs {
		if !slices.ContainsFunc(res, func(x Outcome) bool { return x.Rule == o.Rule && x.Chain == o.Chain }) {
			res = append(res, o)
		}
	}
	return res
}
