package output

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

// encodingJSON is what the JSON writer wrote before it appended by hand:
// encoding/json over the schema, HTML escaping off.
func encodingJSON(t *testing.T, ev *event.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(newJSONEvent(ev)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// oddStrings are strings encoding/json escapes: control characters,
// quotes, backslashes, HTML characters (left alone here), invalid UTF-8,
// and the JavaScript line separators.
var oddStrings = []string{
	"", "plain", `"quoted"`, `back\slash`, "tab\there", "nl\ncr\r", "\b\f\x00\x01\x1f\x7f",
	"<unknown> & more", "caf\u00e9 \u4e16\u754c", "bad \xff\xfe utf8", "\xe2\x80", "line\u2028para\u2029end",
	"emoji \U0001F600",
}

// TestJSONMatchesEncodingJSON holds the hand-written encoder to
// encoding/json on every event of the golden tests and on every string
// that needs escaping, in every string field.
func TestJSONMatchesEncodingJSON(t *testing.T) {
	loc := time.FixedZone("", 2*60*60)
	var events []*event.Event
	for _, set := range [][]*event.Event{testEvents(loc), netfilterEvents(loc), pathEvents(loc), explainEvents(loc), podEvents()} {
		events = append(events, set...)
	}
	for _, s := range oddStrings {
		ev := *netfilterEvents(loc)[0]
		ev.Kind, ev.Reason, ev.Location, ev.Ifname, ev.Proto, ev.TCPState, ev.Func = event.Kind(s), s, s, s, s, s, s
		ev.Stack = []string{s, s}
		ev.Pod = &event.Pod{NetnsName: s, Name: s, Namespace: s, Container: s}
		ev.TCPInfo = &event.TCPInfo{State: s, RTT: 1, DeliveryRate: 1 << 40, Gone: true}
		nf := *ev.Netfilter
		nf.Rule = &event.NetfilterRule{Text: s, Comment: s}
		ev.Netfilter = &nf
		ev.Explain = &event.Explain{Cause: s, Evidence: []event.Evidence{{Key: s, Value: s}}}
		events = append(events, &ev)
	}
	events = append(events, &event.Event{}, &event.Event{Src: netip.MustParseAddr("::ffff:10.0.0.1"), Path: 3, Skb: 0})
	var objs jsonObjects
	for i, ev := range events {
		got, err := appendJSONEvent(nil, ev, &objs)
		if err != nil {
			t.Fatal(err)
		}
		if want := encodingJSON(t, ev); !bytes.Equal(got, want) {
			t.Errorf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
}
