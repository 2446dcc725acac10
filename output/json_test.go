package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

// jsonFields is the documented schema; a change here is a change for users.
var jsonFields = []string{
	"container", "cpu", "dport", "dst", "ifindex", "ifname", "kind", "len", "location",
	"mark", "netns", "netns_name", "pod", "pod_namespace", "proto", "reason", "reason_code",
	"skb", "sock_cookie", "sport", "src", "tcp_flags", "tcp_info", "tcp_state", "time",
}

// tcpInfoFields is the documented schema of the tcp_info object.
var tcpInfoFields = []string{
	"at_event", "delivery_rate", "gone", "looked_up", "lost", "rcv_queue", "retransmits", "rto_us", "rtt_us",
	"rttvar_us", "sacked", "send_queue", "snd_cwnd", "snd_ssthresh", "state",
	"total_retrans", "unacked",
}

func writeJSON(t *testing.T, events []*event.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewJSON(&buf)
	for _, ev := range events {
		if err := w.Write(ev); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

func TestJSONGolden(t *testing.T) {
	checkGolden(t, "json.golden", writeJSON(t, testEvents(time.FixedZone("", 2*60*60))))
}

// TestJSONFields decodes every line back and checks that each object has
// exactly the documented fields, present even when empty.
func TestJSONFields(t *testing.T) {
	events := testEvents(time.FixedZone("", -7*60*60))
	out := writeJSON(t, events)
	sc := bufio.NewScanner(bytes.NewReader(out))
	n := 0
	for ; sc.Scan(); n++ {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", n+1, err, sc.Bytes())
		}
		var got []string
		for k := range obj {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, jsonFields) {
			t.Errorf("line %d: got fields %v, want %v", n+1, got, jsonFields)
		}
	}
	if n != len(events) {
		t.Errorf("got %d lines, want %d", n, len(events))
	}
}

func TestJSONValues(t *testing.T) {
	tz := time.FixedZone("", 5*60*60+30*60)
	events := testEvents(tz)
	tests := []struct {
		name string
		ev   *event.Event
		want jsonEvent
	}{
		{"ipv4 tcp", events[0], jsonEvent{
			Time: "2025-03-04T15:04:05.123456789+05:30", Kind: "drop",
			Reason: "NETFILTER_DROP", ReasonCode: 6, Location: "nft_do_chain+0x4f0 [nf_tables]",
			Netns: 4026531840, Ifindex: 7, Ifname: "veth0", Mark: 16, Proto: "tcp",
			Src: "10.0.0.1", Dst: "192.168.100.200", Sport: 43210, Dport: 443, TCPFlags: "SA",
			Len: 60, CPU: 3, Skb: "0xffff888100a2b300",
		}},
		{"no ip header", events[3], jsonEvent{
			Time: "2025-03-04T15:04:05.123459789+05:30", Kind: "drop", Location: "arp_rcv+0x20",
			Len: 42, CPU: 2, Skb: "0xffff888100a2e600",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got jsonEvent
			if err := json.Unmarshal(writeJSON(t, []*event.Event{tt.ev}), &got); err != nil {
				t.Fatalf("decoding: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestJSONNoHTMLEscape keeps symbols like "<unknown>" readable for grep.
func TestJSONNoHTMLEscape(t *testing.T) {
	ev := &event.Event{Kind: "drop", Location: "<unknown>"}
	if got := string(writeJSON(t, []*event.Event{ev})); !strings.Contains(got, `"location":"<unknown>"`) {
		t.Errorf("location escaped: %s", got)
	}
}

// TestJSONTCPInfo checks the tcp_info object: its documented fields, its
// values in µs and counts, and null when there was no look-up.
func TestJSONTCPInfo(t *testing.T) {
	events := testEvents(time.UTC)
	tests := []struct {
		name string
		ev   *event.Event
		want *jsonTCPInfo
	}{
		{"looked up", events[5], &jsonTCPInfo{
			State: "ESTABLISHED", RTT: 1200, RTTVar: 600, RTO: 204000, Retransmits: 3,
			TotalRetrans: 7, Lost: 2, Sacked: 1, Unacked: 10, SndCwnd: 10, SndSsthresh: 7,
			SendQueue: 14480, DeliveryRate: 1250000, AtEvent: true, LookedUp: true,
		}},
		{"at the event, gone after", events[6], &jsonTCPInfo{Gone: true, State: "SYN_SENT", RTO: 1000000,
			Unacked: 1, SndCwnd: 10, SndSsthresh: 0x7fffffff, AtEvent: true, LookedUp: true}},
		{"gone", &event.Event{TCPInfo: &event.TCPInfo{Gone: true, LookedUp: true}}, &jsonTCPInfo{Gone: true, LookedUp: true}},
		{"drop without socket", events[0], nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := writeJSON(t, []*event.Event{tt.ev})
			var got jsonEvent
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("decoding: %v", err)
			}
			if (got.TCPInfo == nil) != (tt.want == nil) || got.TCPInfo != nil && *got.TCPInfo != *tt.want {
				t.Errorf("tcp_info: got %+v, want %+v", got.TCPInfo, tt.want)
			}
			if got.TCPState != tt.ev.TCPState || got.SockCookie != tt.ev.SockCookie {
				t.Errorf("tcp_state %q sock_cookie %d, want %q %d", got.TCPState, got.SockCookie, tt.ev.TCPState, tt.ev.SockCookie)
			}
			if tt.want != nil {
				checkObjectFields(t, out, "tcp_info", tcpInfoFields)
			}
		})
	}
}

func checkObjectFields(t *testing.T, line []byte, key string, want []string) {
	t.Helper()
	var obj map[string]map[string]any
	var all map[string]json.RawMessage
	if err := json.Unmarshal(line, &all); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"x":`+string(all[key])+`}`), &obj); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range obj["x"] {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s fields %v, want %v", key, got, want)
	}
}
