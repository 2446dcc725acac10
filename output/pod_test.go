package output

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

// podEvents are testEvents[0] annotated with each kind of name.
func podEvents() []*event.Event {
	pods := []*event.Pod{
		{Name: "web-7d9f", Namespace: "shop", Container: "nginx,sidecar"},
		{NetnsName: "blue"},
		{Container: "db"},
		{Container: "/system.slice/docker-0123abcd.scope"},
		{},
	}
	var evs []*event.Event
	for _, p := range pods {
		ev := *testEvents(time.UTC)[0]
		ev.Pod = p
		evs = append(evs, &ev)
	}
	return evs
}

// TestPodGolden pins how each output names a namespace: text, JSON, path
// text, the pcapng comment and both summaries.
func TestPodGolden(t *testing.T) {
	var buf bytes.Buffer
	writers := map[string]event.Writer{"text": NewText(&buf), "json": NewJSON(&buf)}
	for _, name := range []string{"text", "json"} {
		for _, ev := range podEvents() {
			if err := writers[name].Write(ev); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	var rows []event.SummaryRow
	for _, ev := range podEvents() {
		buf.WriteString(packetComment(ev) + "\n")
		rows = append(rows, event.SummaryRow{Key: ev.SummaryKey(), Count: 2, Total: 2, Rate: 1, Pod: ev.Pod})
	}
	at := time.Date(2025, time.March, 4, 15, 4, 5, 0, time.UTC)
	for _, w := range []event.SummaryWriter{NewSummaryText(&buf), NewSummaryJSON(&buf)} {
		if err := w.WriteTotals(at, 2*time.Second, rows); err != nil {
			t.Fatalf("summary: %v", err)
		}
	}
	checkGolden(t, "pod.golden", buf.Bytes())
}

// TestPodNilAndEmpty checks that an event annotated with no names prints
// exactly as one never annotated.
func TestPodNilAndEmpty(t *testing.T) {
	plain, named := testEvents(time.UTC)[0], podEvents()[4]
	if a, b := string(appendTextLine(nil, plain, &lineCache{})), string(appendTextLine(nil, named, &lineCache{})); a != b {
		t.Errorf("text: got %q, want %q", b, a)
	}
	if a, b := packetComment(plain), packetComment(named); a != b {
		t.Errorf("pcap comment: got %q, want %q", b, a)
	}
	if !strings.Contains(string(appendTextLine(nil, podEvents()[0], &lineCache{})), " shop/web-7d9f ") {
		t.Errorf("text does not show the pod in place of the inode")
	}
}
