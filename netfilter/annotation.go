package netfilter

import "github.com/droptrace/droptrace/event"

// annotation turns the replay's outcomes into the event's annotation, with
// its certainty; nil when no rule can have dropped the packet.
func annotation(outs []Outcome, complete bool, w *window, pkt *Packet) *event.Netfilter {
	if len(outs) == 0 {
		return nil
	}
	cands := make([]event.NetfilterVerdict, len(outs))
	for i, o := range outs {
		cands[i] = describe(o, pkt)
	}
	if len(outs) == 1 && complete {
		nf := fromVerdict(cands[0])
		nf.Certainty = event.CertaintyReplayed
		if outs[0].counted(w) {
			nf.Certainty = event.CertaintyCounter
		}
		return nf
	}
	nf := common(cands)
	nf.Certainty = event.CertaintyCandidates
	nf.Candidates = cands
	return nf
}

// describe names an outcome as the event reports it.
func describe(o Outcome, pkt *Packet) event.NetfilterVerdict {
	t := o.Chain.Table
	v := event.NetfilterVerdict{
		Hook: o.Base.HookName(), Family: FamilyName(t.Family), Table: t.Name, Chain: o.Chain.Name,
		Verdict: "DROP",
	}
	if o.Rule == nil {
		v.Policy = true
		return v
	}
	rv := RuleVerdict(o.Rule)
	if rv.Action == ActReject {
		v.Verdict = "REJECT"
		v.RejectWith = rv.RejectWith(t.Family, pkt.IPv6())
	}
	v.Rule = &event.NetfilterRule{Handle: o.Rule.Handle, Position: o.Rule.Position, Text: RuleText(o.Rule), Comment: o.Rule.Comment}
	return v
}

// RuleText prints a rule as iptables -S does for the tables iptables-nft
// manages, as nft list ruleset does otherwise.
func RuleText(r *Rule) string {
	if r.Chain.Table.IsIptables() {
		s, _ := IptablesText(r)
		return s
	}
	s, _ := NftText(r)
	return s
}

func fromVerdict(v event.NetfilterVerdict) *event.Netfilter {
	return &event.Netfilter{Hook: v.Hook, Family: v.Family, Table: v.Table, Chain: v.Chain,
		Verdict: v.Verdict, RejectWith: v.RejectWith, Rule: v.Rule, Policy: v.Policy}
}

// common keeps the fields every candidate shares.
func common(cands []event.NetfilterVerdict) *event.Netfilter {
	nf := fromVerdict(cands[0])
	nf.Rule, nf.Policy = nil, false
	for _, c := range cands[1:] {
		if c.Hook != nf.Hook {
			nf.Hook = ""
		}
		if c.Family != nf.Family {
			nf.Family = ""
		}
		if c.Table != nf.Table || c.Family != cands[0].Family {
			nf.Table = ""
		}
		if c.Chain != nf.Chain || nf.Table == "" {
			nf.Chain = ""
		}
		if c.Verdict != nf.Verdict {
			nf.Verdict = ""
		}
		if c.RejectWith != nf.RejectWith {
			nf.RejectWith = ""
		}
	}
	return nf
}

// replyOf names the reply the drop program saw sent for the drop as
// RejectWith names reject types; nil for none.
func replyOf(r *event.ReplySeen) *event.NetfilterReply {
	switch {
	case r == nil:
		return nil
	case r.Proto == "tcp":
		return &event.NetfilterReply{Type: "tcp-reset"}
	case r.Proto == "icmp" && r.Type == 3:
		return &event.NetfilterReply{Type: icmpCodeName(r.Code), Code: r.Code}
	case r.Proto == "icmp6" && r.Type == 1:
		return &event.NetfilterReply{Type: icmp6CodeName(r.Code), Code: r.Code}
	}
	return &event.NetfilterReply{Type: r.Proto + "-type-" + uitoa(uint64(r.Type)), Code: r.Code}
}
