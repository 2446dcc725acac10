package explain

import (
	"bytes"
	"strings"
	"testing"

	"github.com/droptrace/droptrace/kernel"
)

// TestDescribeRunningKernel fails when a reason of the running kernel has
// no description: a new kernel's reasons must be added to the table.
func TestDescribeRunningKernel(t *testing.T) {
	reasons, err := kernel.LoadDropReasons()
	if err != nil {
		skipOrFail(t, "no kernel BTF: %v", err)
	}
	if !reasons.Supported() {
		skipOrFail(t, "the kernel has no drop reasons")
	}
	names := reasons.Names()
	for _, n := range names {
		if Describe(n) == "" {
			t.Errorf("reason %s of this kernel has no description", n)
		}
	}
	t.Logf("%d reasons of this kernel described", len(names))
}

func TestDescribe(t *testing.T) {
	tests := []struct{ name, want string }{
		{"CONSUMED", "not a drop"},
		{"NOT_DROPPED_YET", "not a drop"},
		{"OVS_DROP_METER", "Open vSwitch dropped the packet: meter"},
		{"SUBSYS_MAC80211_UNUSABLE(0x10005)", "cannot name"},
		{"UNKNOWN(0x9999)", "cannot name"},
		{"NO_SUCH", ""},
	}
	for _, tt := range tests {
		got := Describe(tt.name)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("Describe(%q) = %q, want it to contain %q", tt.name, got, tt.want)
		}
	}
}

func TestWriteList(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteList(&buf, []string{"CONSUMED", "NO_SOCKET", "NOPE"}); err != nil {
		t.Fatal(err)
	}
	want := "CONSUMED   not a drop: the packet was used up normally (consume_skb)\n" +
		"NO_SOCKET  no socket matched the packet (nothing listens on that address and port)\n" +
		"NOPE       -\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
