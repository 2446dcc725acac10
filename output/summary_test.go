package output

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

var (
	keyNF = event.SummaryKey{Reason: "NETFILTER_DROP", ReasonCode: 6, Location: "nft_do_chain+0x46f [nf_tables]",
		LocationAddr: 0xffffffffc0a0146f, Netns: 4026532176, Ifindex: 7, Ifname: "veth0", Proto: "udp"}
	keyNoSock = event.SummaryKey{Reason: "NO_SOCKET", ReasonCode: 3, Location: "__udp4_lib_rcv+0x4bc",
		LocationAddr: 0xffffffff81a2b4bc, Netns: 4026531840, Ifindex: 1, Ifname: "lo", Proto: "udp"}
	keyNoIP = event.SummaryKey{ReasonCode: 999, Location: "arp_rcv+0x20", LocationAddr: 0xffffffff81b00020}
	keyTCP  = event.SummaryKey{Reason: "TCP_INVALID_SEQUENCE", ReasonCode: 40, Location: "tcp_validate_incoming+0x120",
		LocationAddr: 0xffffffff81c00120, Netns: 4026531840, Ifindex: 2, Ifname: "eth0", Proto: "tcp"}
)

func TestInterval(t *testing.T) {
	prev := event.Counts{keyNF: 100, keyNoSock: 5, keyTCP: 7}
	cur := event.Counts{keyNF: 300, keyNoSock: 5, keyNoIP: 3, keyTCP: 10}
	got := event.Interval(prev, cur, 2*time.Second)
	want := []event.SummaryRow{
		{Key: keyNF, Count: 200, Total: 300, Rate: 100},
		{Key: keyTCP, Count: 3, Total: 10, Rate: 1.5},
		{Key: keyNoIP, Count: 3, Total: 3, Rate: 1.5},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestIntervalRecreatedKey: a total that went down (the key was removed
// and counted again) reports its new total, never a wrapped difference.
func TestIntervalRecreatedKey(t *testing.T) {
	got := event.Interval(event.Counts{keyNF: 50}, event.Counts{keyNF: 20}, time.Second)
	if len(got) != 0 {
		t.Errorf("got %+v, want no rows", got)
	}
}

func TestTotals(t *testing.T) {
	got := event.Totals(event.Counts{keyNoSock: 4, keyNF: 40}, 4*time.Second)
	if len(got) != 2 || got[0].Key != keyNF || got[0].Count != 40 || got[0].Rate != 10 || got[1].Total != 4 {
		t.Errorf("got %+v", got)
	}
}

func summaryFixture() (time.Time, []event.SummaryRow, []event.SummaryRow) {
	at := time.Date(2025, time.March, 4, 15, 4, 5, 0, time.Local)
	interval := event.Interval(event.Counts{keyNF: 100}, event.Counts{keyNF: 1100, keyNoSock: 2, keyNoIP: 1, keyTCP: 2}, time.Second)
	totals := event.Totals(event.Counts{keyNF: 1100, keyNoSock: 2, keyNoIP: 1, keyTCP: 2}, 10*time.Second)
	return at, interval, totals
}

func TestSummaryTextGolden(t *testing.T) {
	at, interval, totals := summaryFixture()
	var buf bytes.Buffer
	w := NewSummaryText(&buf)
	for _, step := range []error{
		w.WriteInterval(at, interval),
		w.WriteInterval(at.Add(time.Second), nil),
		w.WriteTotals(at.Add(2*time.Second), 10*time.Second, totals),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	checkGolden(t, "summary_text.golden", buf.Bytes())
}

func TestSummaryJSONGolden(t *testing.T) {
	at, interval, totals := summaryFixture()
	at = at.In(time.FixedZone("", 3600))
	var buf bytes.Buffer
	w := NewSummaryJSON(&buf)
	if err := w.WriteInterval(at, interval); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTotals(at.Add(time.Second), 10*time.Second, totals); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "summary_json.golden", buf.Bytes())
}

func TestSummaryRowsExplained(t *testing.T) {
	x := &event.Explain{Cause: "no socket listens on the port", Evidence: []event.Evidence{{Key: "port", Value: "53"}}, Fix: "start the service"}
	rows := []event.SummaryRow{{Key: event.SummaryKey{Reason: "NO_SOCKET", Proto: "udp"}, Count: 2, Total: 2, Explain: x}}
	var text, js bytes.Buffer
	if err := NewSummaryText(&text).WriteTotals(time.Unix(0, 0), time.Second, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "\n"+explainIndent+"cause: no socket listens on the port; port=53; fix: start the service\n") {
		t.Errorf("text summary lacks the explanation line:\n%s", text.String())
	}
	if err := NewSummaryJSON(&js).WriteTotals(time.Unix(0, 0), time.Second, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"explain":{"cause":"no socket listens on the port","evidence":[{"key":"port","value":"53"}],"fix":"start the service","doc":""}`) {
		t.Errorf("json summary lacks the explain object: %s", js.String())
	}
}
