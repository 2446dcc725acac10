package output

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
)

// pathEvents are testEvents as steps of paths: functions, a consume, a
// stack, a path seen twice, so its colour is reused, and its skb again in
// a new path (a new generation, coloured as a path of its own), and a step without a
// path.
func pathEvents(loc *time.Location) []*event.Event {
	events := testEvents(loc)
	funcs := []string{"kfree_skb_reason", "udp_v6_rcv", "icmp_rcv", "arp_rcv", "sctp_rcv", "tcp_retransmit_skb", "tcp_v6_rcv"}
	for i, ev := range events {
		ev.Func = funcs[i]
		ev.Path = uint64(i + 1)
	}
	events[6].Path = 0
	events[0].Stack = []string{"nft_do_chain+0x4f0 [nf_tables]", "nf_hook_slow+0x41", "ip_rcv+0x5c"}
	events[2].Kind = "consume"
	events[3].Stack = []string{"arp_rcv+0x20"}
	again := *events[1]
	again.Func = "tp:skb:consume_skb"
	again.Kind = "trace"
	again.Reason, again.ReasonCode, again.Location = "", 0, ""
	reused := again
	reused.Path = 12345
	reused.Func = "tp:net_dev_queue"
	return append(events, &again, &reused)
}

func writePath(t *testing.T, colour bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewPathText(&buf, colour)
	for _, ev := range pathEvents(time.Local) {
		if err := w.Write(ev); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

func TestPathTextGolden(t *testing.T) {
	checkGolden(t, "path.golden", writePath(t, false))
}

func TestPathTextColourGolden(t *testing.T) {
	checkGolden(t, "path_colour.golden", writePath(t, true))
}

func TestPathTextWriteError(t *testing.T) {
	err := NewPathText(failingWriter{}, false).Write(pathEvents(time.Local)[0])
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("got error %v, want one wrapping %q", err, "disk full")
	}
}

// errAfterHead fails every write after the first, the header.
type errAfterHead struct{ n int }

func (w *errAfterHead) Write(p []byte) (int, error) {
	if w.n++; w.n > 1 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestPathTextEventWriteError(t *testing.T) {
	err := NewPathText(&errAfterHead{}, false).Write(pathEvents(time.Local)[0])
	if err == nil || err.Error() != "writing text event: disk full" {
		t.Errorf("got error %v, want %q", err, "writing text event: disk full")
	}
}

// TestPathTextAllocs checks that a step costs no allocations once the
// line buffer has grown.
func TestPathTextAllocs(t *testing.T) {
	w := NewPathText(io.Discard, false)
	ev := pathEvents(time.Local)[0]
	if err := w.Write(ev); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = w.Write(ev) }); n != 0 {
		t.Errorf("got %v allocations per event, want 0", n)
	}
}

// TestPathIDCache checks the kept PATH column against formatting each id
// afresh, over more paths than are kept, in an order that revisits them,
// and a step outside any path.
func TestPathIDCache(t *testing.T) {
	var keys []pathKey
	for i := range recentSize + 3 {
		keys = append(keys, pathKey{skb: 0xffff888154ff4000 + uint64(i%3)*0x100, gen: uint64(i * 1000)})
	}
	var c pathIDText
	for n := range 100 {
		key := keys[(n*5+n/3)%len(keys)]
		want := "0x" + strconv.FormatUint(key.skb, 16)
		if key.gen != 0 {
			want += "-" + strconv.FormatUint(key.gen, 10)
		}
		want = fmt.Sprintf("%-24s", want)
		if got := string(c.id(key)); got != want {
			t.Fatalf("step %d, %+v: got %q, want %q", n, key, got, want)
		}
	}
}
