package metrics

import (
	"strconv"

	"github.com/droptrace/droptrace/event"
)

// DefaultMaxLabelSets is how many distinct label sets droptrace_drops_total
// keeps before counting new ones under "other".
const DefaultMaxLabelSets = 1000

// overflowValue is every label's value in the overflow bucket.
const overflowValue = "other"

// dropLabels are the labels of droptrace_drops_total, in dropLabelNames order.
type dropLabels struct {
	reason, location, netns, ifname, proto string
	pod, podNamespace                      string
	rule                                   string // table/chain/handle of a NETFILTER_DROP's rule ("table/chain/policy"); "" when not named
}

var dropLabelNames = []string{"reason", "location", "netns", "ifname", "proto", "pod", "pod_namespace", "rule"}

var overflowLabels = dropLabels{overflowValue, overflowValue, overflowValue, overflowValue, overflowValue, overflowValue, overflowValue, overflowValue}

func (l dropLabels) values() []string {
	return []string{l.reason, l.location, l.netns, l.ifname, l.proto, l.pod, l.podNamespace, l.rule}
}

func eventLabels(ev *event.Event) dropLabels {
	l := keyLabels(ev.SummaryKey(), ev.Pod)
	l.rule = ruleLabel(ev.Netfilter)
	return l
}

// ruleLabel names the rule of an attribution, "table/chain/handle" (or
// "table/chain/policy"); "" with candidates. Its values are bounded by
// the rules of the machine, and its label sets by the cap like any other.
func ruleLabel(nf *event.Netfilter) string {
	switch {
	case nf == nil || len(nf.Candidates) > 0:
		return ""
	case nf.Rule != nil:
		return nf.Table + "/" + nf.Chain + "/" + strconv.FormatUint(nf.Rule.Handle, 10)
	case nf.Policy:
		return nf.Table + "/" + nf.Chain + "/policy"
	}
	return ""
}

// keyLabels are the labels of a summary key in a namespace named pod
// (nil when not named). A pod's labels add no label sets of their own:
// a pod has one namespace, which the netns label already tells apart.
func keyLabels(k event.SummaryKey, pod *event.Pod) dropLabels {
	l := dropLabels{
		reason:   event.ReasonText(k.Reason, k.ReasonCode),
		location: k.Location,
		netns:    strconv.FormatUint(uint64(k.Netns), 10),
		ifname:   k.Ifname,
		proto:    k.Proto,
	}
	if pod != nil {
		l.pod, l.podNamespace = pod.Name, pod.Namespace
	}
	return l
}

// labelCap admits label sets up to max, first come first kept, so a set
// that was admitted stays admitted and its counter never moves to "other".
type labelCap struct {
	max      int
	admitted map[dropLabels]struct{}
}

func newLabelCap(max int) *labelCap {
	return &labelCap{max: max, admitted: make(map[dropLabels]struct{})}
}

// admit returns l when it is, or now becomes, one of the admitted sets,
// and the overflow bucket otherwise (ok false).
func (c *labelCap) admit(l dropLabels) (dropLabels, bool) {
	if _, ok := c.admitted[l]; ok {
		return l, true
	}
	if len(c.admitted) >= c.max {
		return overflowLabels, false
	}
	c.admitted[l] = struct{}{}
	return l, true
}
