package netfilter

// window is the counter movement between two reads of a namespace's
// ruleset. A drop that happened after the older read ended and before
// the newer one started is certainly counted in it; a rule whose counter
// did not move in it did not match that drop.
type window struct {
	old, cur *Ruleset
	rules    map[ruleKey]uint64 // packets counted by the old read
	chains   map[ruleKey]uint64
}

type ruleKey struct {
	family byte
	legacy bool
	table  string
	chain  string
	handle uint64 // x_tables rules: their identity
}

func keyOfRule(r *Rule) ruleKey {
	if r.Chain.Table.Legacy {
		return ruleKey{byte(r.Chain.Table.Family), true, r.Chain.Table.Name, r.Chain.Name, r.ident}
	}
	return ruleKey{byte(r.Chain.Table.Family), false, r.Chain.Table.Name, r.Chain.Name, r.Handle}
}

func keyOfChain(c *Chain) ruleKey {
	return ruleKey{byte(c.Table.Family), c.Table.Legacy, c.Table.Name, c.Name, 0}
}

func newWindow(old, cur *Ruleset) *window {
	w := &window{old: old, cur: cur, rules: map[ruleKey]uint64{}, chains: map[ruleKey]uint64{}}
	for _, t := range old.Tables {
		for _, c := range t.Chains {
			w.chains[keyOfChain(c)] = c.Packets
			for _, r := range c.Rules {
				w.rules[keyOfRule(r)] = r.Packets
			}
		}
	}
	return w
}

// noInvalid says whether conntrack found no packet invalid in the window.
func (w *window) noInvalid() bool {
	return w.old.CtInvalidKnown && w.cur.CtInvalidKnown && w.cur.CtInvalid == w.old.CtInvalid
}

// rulePackets is how many packets the rule (of the newer read) counted in
// the window; a rule the older read did not have counts from zero.
func (w *window) rulePackets(r *Rule) uint64 {
	old := w.rules[keyOfRule(r)]
	if r.Packets < old {
		return r.Packets // recreated, or zeroed by someone else
	}
	return r.Packets - old
}

func (w *window) chainPackets(c *Chain) uint64 {
	old := w.chains[keyOfChain(c)]
	if c.Packets < old {
		return c.Packets
	}
	return c.Packets - old
}
