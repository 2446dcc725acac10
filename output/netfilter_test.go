package output

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

// netfilterEvents are NETFILTER_DROPs attributed each way: a rule by
// counters, a chain policy, a native rule replayed, candidates.
func netfilterEvents(loc *time.Location) []*event.Event {
	base := func(usec int, nf *event.Netfilter) *event.Event {
		return &event.Event{
			Time: time.Date(2025, time.March, 4, 15, 4, 5, 123456789+usec*1000, loc), Kind: "drop",
			Reason: "NETFILTER_DROP", ReasonCode: 6, Location: "nft_do_chain+0x46f", Netns: 4026532176,
			Ifindex: 7, Ifname: "veth0", EtherType: 0x0800, Proto: "tcp",
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
			Sport: 43210, Dport: 8443, Len: 60, CPU: 1, Skb: 0xffff888100a2b300, Netfilter: nf,
		}
	}
	reject := &event.NetfilterRule{Handle: 4, Position: 3, Text: "-A INPUT -p tcp -m tcp --dport 8443 -j REJECT --reject-with tcp-reset"}
	ctRule := &event.NetfilterRule{Handle: 4, Position: 2, Text: "ct state invalid drop"}
	nftReject := &event.NetfilterRule{Handle: 5, Position: 3, Text: "tcp dport 8443 reject with tcp reset", Comment: "web"}
	return []*event.Event{
		base(0, &event.Netfilter{Hook: "input", Family: "ip", Table: "filter", Chain: "INPUT", Verdict: "REJECT",
			RejectWith: "tcp-reset", Rule: reject, Certainty: "counter"}),
		base(1, &event.Netfilter{Hook: "forward", Family: "ip", Table: "filter", Chain: "FORWARD", Verdict: "DROP",
			Policy: true, Certainty: "counter"}),
		base(2, &event.Netfilter{Hook: "input", Family: "inet", Table: "fw", Chain: "input", Verdict: "REJECT",
			RejectWith: "tcp-reset", Rule: nftReject, Certainty: "replayed"}),
		base(3, &event.Netfilter{Hook: "input", Family: "inet", Table: "fw", Chain: "input", Certainty: "candidates",
			Candidates: []event.NetfilterVerdict{
				{Hook: "input", Family: "inet", Table: "fw", Chain: "input", Verdict: "DROP", Rule: ctRule},
				{Hook: "input", Family: "inet", Table: "fw", Chain: "input", Verdict: "REJECT", RejectWith: "tcp-reset", Rule: nftReject},
			}}),
	}
}

func TestNetfilterTextGolden(t *testing.T) {
	var buf bytes.Buffer
	w := NewText(&buf)
	for _, ev := range netfilterEvents(time.Local) {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	checkGolden(t, "netfilter_text.golden", buf.Bytes())
}

func TestNetfilterJSONGolden(t *testing.T) {
	checkGolden(t, "netfilter_json.golden", writeJSON(t, netfilterEvents(time.FixedZone("", 2*60*60))))
}

// netfilterFields is the schema issue 11 names for the netfilter object.
var netfilterFields = []string{"candidates", "certainty", "chain", "family", "hook", "policy", "reject_with", "reply", "rule", "table", "verdict"}

func TestNetfilterJSONFields(t *testing.T) {
	ev := netfilterEvents(time.UTC)[0]
	ev.Netfilter.Candidates = []event.NetfilterVerdict{{Verdict: "DROP"}}
	ev.Netfilter.Reply = &event.NetfilterReply{Type: "tcp-reset"}
	var obj struct{ Netfilter map[string]any }
	if err := json.Unmarshal(writeJSON(t, []*event.Event{ev}), &obj); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range obj.Netfilter {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, netfilterFields) {
		t.Errorf("netfilter fields %v, want %v", got, netfilterFields)
	}
	rule, _ := obj.Netfilter["rule"].(map[string]any)
	for _, k := range []string{"handle", "position", "text"} {
		if _, ok := rule[k]; !ok {
			t.Errorf("rule has no %q: %v", k, rule)
		}
	}
}

func TestNetfilterOmittedWhenNil(t *testing.T) {
	out := writeJSON(t, testEvents(time.UTC))
	if bytes.Contains(out, []byte(`"netfilter"`)) {
		t.Errorf("events without an attribution have a netfilter field:\n%s", out)
	}
}

func TestNetfilterPcapComment(t *testing.T) {
	ev := netfilterEvents(time.UTC)[0]
	got := packetComment(ev)
	want := `netfilter=REJECT tcp-reset filter/INPUT #3 "-A INPUT -p tcp -m tcp --dport 8443 -j REJECT --reject-with tcp-reset" (counter)`
	if !strings.HasSuffix(got, " "+want) {
		t.Errorf("comment %q, want it to end with %q", got, want)
	}
}

func TestSummaryRowRule(t *testing.T) {
	nf := &event.Netfilter{Hook: "input", Family: "ip", Table: "filter", Chain: "INPUT", Verdict: "DROP",
		Rule: &event.NetfilterRule{Handle: 4, Position: 3, Text: "-A INPUT -p udp -m udp --dport 5353 -j DROP"}, Certainty: "counter"}
	rows := []event.SummaryRow{{Key: event.SummaryKey{Reason: "NETFILTER_DROP", Proto: "udp"}, Count: 7, Total: 7, Netfilter: nf}}
	var text, js bytes.Buffer
	if err := NewSummaryText(&text).WriteInterval(time.Unix(0, 0), rows); err != nil {
		t.Fatal(err)
	}
	want := `    rule: DROP filter/INPUT #3 "-A INPUT -p udp -m udp --dport 5353 -j DROP" (counter)` + "\n"
	if !strings.Contains(text.String(), want) {
		t.Errorf("text summary:\n%s\nwant a line %q", text.String(), want)
	}
	if err := NewSummaryJSON(&js).WriteInterval(time.Unix(0, 0), rows); err != nil {
		t.Fatal(err)
	}
	var row struct{ Netfilter *event.Netfilter }
	if err := json.Unmarshal(js.Bytes(), &row); err != nil || row.Netfilter == nil || row.Netfilter.Rule.Position != 3 {
		t.Errorf("json summary %s: netfilter %+v (%v)", js.String(), row.Netfilter, err)
	}
}
