package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

// explainEvents are two of testEvents with an explanation: one with
// evidence and a link, one with neither.
func explainEvents(loc *time.Location) []*event.Event {
	evs := testEvents(loc)
	a, b := *evs[0], *evs[2]
	a.Explain = &event.Explain{
		Cause: "a netfilter rule dropped the packet",
		Evidence: []event.Evidence{
			{Key: "table", Value: "inet filter"}, {Key: "chain", Value: "input"},
			{Key: "rule", Value: `tcp dport 443 drop`}, {Key: "handle", Value: "4"}, {Key: "empty", Value: ""},
		},
		Fix: "change the rule if the packet should pass",
		Doc: "https://docs.kernel.org/networking/ip-sysctl.html",
	}
	b.Explain = &event.Explain{Cause: "nothing listens there", Fix: "start the service"}
	return []*event.Event{&a, &b, evs[1]}
}

func TestExplainTextGolden(t *testing.T) {
	var buf bytes.Buffer
	w := NewText(&buf)
	for _, ev := range explainEvents(time.Local) {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	checkGolden(t, "explain_text.golden", buf.Bytes())
	lines := strings.Split(buf.String(), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[2], explainIndent+"cause: ") {
		t.Errorf("want header, event, indented explanation, event, explanation, event; got\n%s", buf.String())
	}
}

func TestExplainJSONGolden(t *testing.T) {
	evs := explainEvents(time.FixedZone("", 2*60*60))
	out := writeJSON(t, evs)
	checkGolden(t, "explain_json.golden", out)
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var first struct {
		Explain struct {
			Cause    string              `json:"cause"`
			Evidence []map[string]string `json:"evidence"`
			Fix, Doc string
		} `json:"explain"`
	}
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	if got := first.Explain.Evidence; len(got) != 5 || got[2]["key"] != "rule" || got[2]["value"] != "tcp dport 443 drop" {
		t.Errorf("evidence %v: want the pairs in order as key/value objects", got)
	}
	if bytes.Contains(lines[2], []byte(`"explain"`)) {
		t.Errorf("an event without explanation has an explain field: %s", lines[2])
	}
}

func TestExplainPcapComment(t *testing.T) {
	ev := explainEvents(time.UTC)[1]
	got := packetComment(ev)
	want := "drop reason=NO_SOCKET location=icmp_rcv+0x1c3 netns=4026531840 if=lo skb=0xffff888100a2d500\n" +
		"cause: nothing listens there; fix: start the service"
	if got != want {
		t.Errorf("comment\n%q, want\n%q", got, want)
	}
}
