package explain

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/droptrace/droptrace/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\ngot:\n%s", path, got)
	}
}

// TestAdviceGolden pins the cause, fix and link of every reason, and of
// every well-known location of a drop without a reason.
func TestAdviceGolden(t *testing.T) {
	var b bytes.Buffer
	write := func(reason, location string) {
		x := Static(reason, location)
		if x.Cause == "" || x.Fix == "" {
			t.Errorf("%s at %q: empty cause or fix: %+v", reason, location, x)
		}
		fmt.Fprintf(&b, "%s %s\n  cause: %s\n  fix: %s\n", reason, location, x.Cause, x.Fix)
		if x.Doc != "" {
			fmt.Fprintf(&b, "  doc: %s\n", x.Doc)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(descriptions)) {
		write(r, "somewhere+0x10")
	}
	for _, s := range slices.Sorted(maps.Keys(sites)) {
		write("NOT_SPECIFIED", s+"+0x94")
	}
	write("NOT_SPECIFIED", "unknown_function+0x1")
	write("OVS_DROP_METER", "ovs_meter_execute+0x5 [openvswitch]")
	checkGolden(t, "advice.golden", b.Bytes())
}

func TestSymbol(t *testing.T) {
	tests := []struct{ loc, want string }{
		{"ip_error+0x94", "ip_error"},
		{"nft_do_chain+0x4f0 [nf_tables]", "nft_do_chain"},
		{"__dev_forward_skb2.isra.0+0x87", "__dev_forward_skb2"},
		{"tcp_v4_rcv", "tcp_v4_rcv"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Symbol(tt.loc); got != tt.want {
			t.Errorf("Symbol(%q) = %q, want %q", tt.loc, got, tt.want)
		}
	}
}

func TestRoutine(t *testing.T) {
	tests := []struct {
		ev   event.Event
		want bool
	}{
		{event.Event{Kind: event.KindDrop, Reason: "NOT_SPECIFIED", Location: "ip6_mc_input+0x15e"}, true},
		{event.Event{Kind: event.KindDrop, Reason: "QUEUE_PURGE", Location: "skb_queue_purge_reason+0x1"}, true},
		{event.Event{Kind: event.KindDrop, Reason: "NOT_SPECIFIED", Location: "udp_destruct_common+0x8a"}, true},
		{event.Event{Kind: event.KindDrop, Location: "ip6_mc_input+0x15e"}, true}, // kernel without reasons
		{event.Event{Kind: event.KindDrop, Reason: "CONSUMED"}, true},
		{event.Event{Kind: event.KindDrop, Reason: "NOT_SPECIFIED", Location: "ip_error+0x94"}, false},
		{event.Event{Kind: event.KindDrop, Reason: "NO_SOCKET", Location: "ip6_mc_input+0x15e"}, false},
		{event.Event{Kind: event.KindDrop, Reason: "NETFILTER_DROP", Location: "nft_do_chain+0x46f"}, false},
		{event.Event{Kind: event.KindTrace, Reason: "QUEUE_PURGE"}, false},
	}
	for _, tt := range tests {
		if got := Routine(&tt.ev); got != tt.want {
			t.Errorf("Routine(%s at %s) = %v, want %v", tt.ev.Reason, tt.ev.Location, got, tt.want)
		}
	}
}
