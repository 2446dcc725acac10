package explain

import (
	"strconv"

	"github.com/droptrace/droptrace/event"
)

// NetfilterEvidence is the evidence of a NETFILTER_DROP: what the
// netfilter annotator found (ev.Netfilter). It looks nothing up; use it
// as Config.Netfilter.
func NetfilterEvidence(ev *event.Event) []event.Evidence {
	nf := ev.Netfilter
	if nf == nil {
		return nil
	}
	ev2 := []event.Evidence{
		{Key: "hook", Value: nf.Hook},
		{Key: "table", Value: nf.Family + " " + nf.Table},
		{Key: "chain", Value: nf.Chain},
		{Key: "verdict", Value: verdictText(nf.Verdict, nf.RejectWith)},
		{Key: "certainty", Value: nf.Certainty},
	}
	switch {
	case nf.Policy:
		ev2 = append(ev2, event.Evidence{Key: "rule", Value: "policy of chain " + nf.Chain})
	case nf.Rule != nil:
		ev2 = append(ev2, event.Evidence{Key: "rule", Value: "#" + strconv.Itoa(nf.Rule.Position) + " " + nf.Rule.Text})
	}
	if n := len(nf.Candidates); n > 0 {
		ev2 = append(ev2, event.Evidence{Key: "candidates", Value: strconv.Itoa(n)})
	}
	return ev2
}

func verdictText(verdict, with string) string {
	if with == "" {
		return verdict
	}
	return verdict + " " + with
}
