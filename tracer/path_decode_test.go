package tracer

import (
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

// pathEvent returns a path record's struct with the header fields of re.
func pathEvent(re bpf.DropEvent) bpf.TracePathEvent {
	var pe bpf.TracePathEvent
	// struct path_event starts with a struct event: same fields, same layout.
	*(*bpf.DropEvent)(unsafe.Pointer(&pe.Ev)) = re
	return pe
}

func TestPathEventStartsWithEvent(t *testing.T) {
	if got, want := unsafe.Sizeof(bpf.TracePathEvent{}.Ev), unsafe.Sizeof(bpf.DropEvent{}); got != want {
		t.Fatalf("path_event's event is %d bytes, struct event %d", got, want)
	}
	if got, want := offFuncIP, eventSize; got != want {
		t.Errorf("func_ip at %d, want right after the event at %d", got, want)
	}
}

func TestDecodePath(t *testing.T) {
	syms := map[uint64]string{
		0xffffffffa0001000: "bpf_prog_6deef7357e7b4530_kprobe_skb_1",
		0xffffffffa0002000: "bpf_trace_run2+0x3c",
		0xffffffffa0003000: "__traceiter_kfree_skb+0x2b",
		0xffffffffa0004000: "kfree_skb_reason+0x10",
		0xffffffffa0005000: "ip_rcv_finish+0x20",
		0xffffffffa0006000: "__netif_receive_skb_one_core+0x3d",
		0xffffffffa0007000: "kprobe_ftrace_handler+0x100",
		0xffffffffa0008000: "bpf_prog_00000000_helper [bpf]",
		0xffffffffa0009000: "ip_rcv+0x2f",
		0xffffffffa000a000: "nft_do_chain+0x4f0 [nf_tables]",
	}
	tracepoints := []string{TracepointStep("net_dev_queue"), TracepointStep("netif_receive_skb")}
	tests := []struct {
		name       string
		kind       bpf.DropEventKind
		ip         uint64
		probeID    uint32
		stack      []uint64
		stackBytes uint32 // stack_len when not 8*len(stack)
		wantFunc   string
		wantStack  []string
		wantReason string
		wantCode   uint32
		wantLoc    string
	}{
		{name: "kprobe step", kind: bpf.DropEventKindEVENT_TRACE, ip: 0xffffffffa0009000,
			wantFunc: "ip_rcv"},
		{name: "kprobe step in a module", kind: bpf.DropEventKindEVENT_TRACE, ip: 0xffffffffa000a000,
			wantFunc: "nft_do_chain"},
		{name: "kprobe ip wins over a probe id", kind: bpf.DropEventKindEVENT_TRACE, ip: 0xffffffffa0009000, probeID: 1,
			wantFunc: "ip_rcv"},
		{name: "tracepoint step", kind: bpf.DropEventKindEVENT_TRACE, probeID: 2,
			wantFunc: "tp:netif_receive_skb"},
		{name: "first tracepoint", kind: bpf.DropEventKindEVENT_TRACE, probeID: 1,
			wantFunc: "tp:net_dev_queue"},
		{name: "unknown probe id", kind: bpf.DropEventKindEVENT_TRACE, probeID: 3,
			wantFunc: "?"},
		{name: "drop ends the path", kind: bpf.DropEventKindEVENT_DROP,
			wantFunc: "tp:kfree_skb", wantReason: "NO_SOCKET", wantCode: 2, wantLoc: "kfree_skb_reason+0x10"},
		{name: "consume ends the path", kind: bpf.DropEventKindEVENT_CONSUME,
			wantFunc: "tp:consume_skb"},
		{name: "unknown kind", kind: 9, wantFunc: "?"},
		{name: "stack without tracing frames", kind: bpf.DropEventKindEVENT_TRACE, probeID: 2,
			stack:    []uint64{0xffffffffa0008000, 0xffffffffa0001000, 0xffffffffa0002000, 0xffffffffa0003000, 0xffffffffa0004000, 0xffffffffa0005000, 0xffffffffa0006000},
			wantFunc: "tp:netif_receive_skb", wantStack: []string{"kfree_skb_reason+0x10", "ip_rcv_finish+0x20", "__netif_receive_skb_one_core+0x3d"}},
		{name: "kprobe frames and raw addresses trimmed from the top only", kind: bpf.DropEventKindEVENT_TRACE, ip: 0xffffffffa0009000,
			stack:    []uint64{0xffffffffa0007000, 0xffffffffb0000000, 0xffffffffa0009000, 0xffffffffa0001000, 0xffffffffb0000008},
			wantFunc: "ip_rcv", wantStack: []string{"ip_rcv+0x2f", "bpf_prog_6deef7357e7b4530_kprobe_skb_1", "0xffffffffb0000008"}},
		{name: "stack_len not a whole frame", kind: bpf.DropEventKindEVENT_TRACE, probeID: 1,
			stack: []uint64{0xffffffffa0004000, 0xffffffffa0005000, 0xffffffffa0006000}, stackBytes: 20,
			wantFunc: "tp:net_dev_queue", wantStack: []string{"kfree_skb_reason+0x10", "ip_rcv_finish+0x20"}},
		{name: "stack_len beyond the record", kind: bpf.DropEventKindEVENT_TRACE, probeID: 1,
			stack: []uint64{0xffffffffa0004000}, stackBytes: 1 << 20,
			wantFunc: "tp:net_dev_queue", wantStack: append([]string{"kfree_skb_reason+0x10"}, slices.Repeat([]string{"0x0"}, 31)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := testDecoder()
			d.Symbols = &fakeSymbols{names: syms}
			pe := pathEvent(bpf.DropEvent{Kind: uint8(tt.kind), Reason: 2, Location: 0xffffffffa0004000, Ifname: ifname("eth0")})
			pe.FuncIp, pe.ProbeId = tt.ip, tt.probeID
			copy(pe.Stack[:], tt.stack)
			pe.StackLen = uint32(8 * len(tt.stack))
			if tt.stackBytes != 0 {
				pe.StackLen = tt.stackBytes
			}
			var ev event.Event
			if err := d.DecodePath(pathRecord(&pe), &ev, tracepoints); err != nil {
				t.Fatal(err)
			}
			if got, want := ev.Func, tt.wantFunc; got != want {
				t.Errorf("Func = %q, want %q", got, want)
			}
			if got, want := ev.Stack, tt.wantStack; !slices.Equal(got, want) {
				t.Errorf("Stack = %q, want %q", got, want)
			}
			if ev.Reason != tt.wantReason || ev.ReasonCode != tt.wantCode || ev.Location != tt.wantLoc {
				t.Errorf("reason %q (%d) at %q, want %q (%d) at %q", ev.Reason, ev.ReasonCode, ev.Location, tt.wantReason, tt.wantCode, tt.wantLoc)
			}
			if ev.Ifname != "eth0" {
				t.Errorf("Ifname = %q: the event header was not decoded", ev.Ifname)
			}
		})
	}
}

// TestDecodePathTuple checks that a path record's header is decoded as a
// drop record's is.
func TestDecodePathTuple(t *testing.T) {
	re := bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_TRACE), Ts: 42, Skb: 0xffff888000001000, Ifindex: 3}
	parseLikeBPF(&re, ipv6(protoHopOpts, ext6(protoTCP, 0, l4(443, 50000, 20))))
	pe := pathEvent(re)
	pe.Path = 7
	d, _ := testDecoder()
	var ev event.Event
	if err := d.DecodePath(pathRecord(&pe), &ev, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := ev.PathID(), "0xffff888000001000-7"; got != want {
		t.Errorf("PathID = %q, want %q", got, want)
	}
	if ev.Src.String() != "2001:db8:1::1234" || ev.Proto != "tcp" || ev.Sport != 443 || ev.Dport != 50000 ||
		ev.Skb != 0xffff888000001000 || ev.Ifindex != 3 || ev.Time.UnixNano() != testEpoch+42 {
		t.Errorf("DecodePath = %+v", ev)
	}
}

func TestDecodePathWithoutSymbols(t *testing.T) {
	d := &Decoder{clock: clock{offset: testEpoch}}
	pe := pathEvent(bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_TRACE)})
	pe.FuncIp = 0xffffffff81234567
	var ev event.Event
	if err := d.DecodePath(pathRecord(&pe), &ev, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := ev.Func, "0xffffffff81234567"; got != want {
		t.Errorf("Func = %q, want %q", got, want)
	}
}

// TestDecodePathNoPacket: path records carry no packet bytes (trace.c
// sets cap_len 0); one that claims some is refused, not read past.
func TestDecodePathNoPacket(t *testing.T) {
	pe := pathEvent(bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_TRACE), CapLen: 4, Link: uint8(bpf.DropLinkKindLINK_RAW_IP)})
	d, _ := testDecoder()
	var ev event.Event
	if err := d.DecodePath(pathRecord(&pe), &ev, nil); err == nil || !strings.Contains(err.Error(), "packet bytes") {
		t.Errorf("err %v, want one about packet bytes", err)
	}
}

func TestDecodePathShort(t *testing.T) {
	d, _ := testDecoder()
	for _, n := range []int{0, eventSize, offStack - 1} {
		var ev event.Event
		err := d.DecodePath(make([]byte, n), &ev, nil)
		if err == nil || !strings.Contains(err.Error(), "short path event") {
			t.Errorf("DecodePath of %d bytes: err %v, want a short path event error", n, err)
		}
	}
}

// Without --output-stack the program sends the record without its stack
// area.
func TestDecodePathWithoutStackArea(t *testing.T) {
	pe := pathEvent(bpf.DropEvent{Kind: uint8(bpf.DropEventKindEVENT_TRACE)})
	pe.Path = 7
	d, _ := testDecoder()
	var ev event.Event
	if err := d.DecodePath(pathRecord(&pe)[:offStack], &ev, nil); err != nil {
		t.Fatal(err)
	}
	if ev.Path != 7 || len(ev.Stack) != 0 {
		t.Errorf("path %d, stack %v; want 7 and none", ev.Path, ev.Stack)
	}
}

func TestIsTracingFrame(t *testing.T) {
	tests := []struct {
		frame string
		want  bool
	}{
		{"bpf_prog_6deef7357e7b4530_kprobe_skb_1+0x8c", true},
		{"bpf_trace_run3+0x52", true},
		{"__traceiter_kfree_skb+0x2b", true},
		{"__bpf_trace_kfree_skb+0x9", true},
		{"trace_call_bpf+0xf4", true},
		{"kprobe_ftrace_handler+0x10d", true},
		{"fprobe_handler+0x1", true},
		{"ftrace_regs_caller+0x4", true},
		{"bpf_trampoline_6442452990+0x4f", true},
		{"arch_ftrace_ops_list_func+0x1", true},
		{"0xffffffffc0401234", true},
		{"helper+0x1 [bpf]", true},
		{"kfree_skb_reason+0x10", false},
		{"ip_rcv+0x2f", false},
		{"bpf_skb_output+0x1", false},
		{"nft_do_chain+0x4f0 [nf_tables]", false},
	}
	for _, tt := range tests {
		if got := isTracingFrame(tt.frame); got != tt.want {
			t.Errorf("isTracingFrame(%q) = %v, want %v", tt.frame, got, tt.want)
		}
	}
}
