package explain

import (
	"testing"

	"github.com/droptrace/droptrace/event"
)

func TestNetfilterEvidence(t *testing.T) {
	ev := &event.Event{Netfilter: &event.Netfilter{Hook: "input", Family: "ip", Table: "filter", Chain: "INPUT",
		Verdict: "REJECT", RejectWith: "tcp-reset", Certainty: "counter",
		Rule: &event.NetfilterRule{Position: 3, Text: "-A INPUT -p tcp -m tcp --dport 8443 -j REJECT --reject-with tcp-reset"}}}
	got := NetfilterEvidence(ev)
	want := map[string]string{"hook": "input", "table": "ip filter", "chain": "INPUT", "verdict": "REJECT tcp-reset",
		"certainty": "counter", "rule": "#3 -A INPUT -p tcp -m tcp --dport 8443 -j REJECT --reject-with tcp-reset"}
	if len(got) != len(want) {
		t.Fatalf("evidence %v, want %d pairs", got, len(want))
	}
	for _, e := range got {
		if want[e.Key] != e.Value {
			t.Errorf("%s = %q, want %q", e.Key, e.Value, want[e.Key])
		}
	}
	if NetfilterEvidence(&event.Event{}) != nil {
		t.Error("evidence without an attribution")
	}
	pol := NetfilterEvidence(&event.Event{Netfilter: &event.Netfilter{Chain: "FORWARD", Policy: true, Verdict: "DROP"}})
	if pol[len(pol)-1].Value != "policy of chain FORWARD" {
		t.Errorf("policy evidence %v", pol)
	}
}
