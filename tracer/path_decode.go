package tracer

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unsafe"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
)

// Offsets of the fields that follow struct event in struct path_event.
var (
	offFuncIP   = int(unsafe.Offsetof(bpf.TracePathEvent{}.FuncIp))
	offPath     = int(unsafe.Offsetof(bpf.TracePathEvent{}.Path))
	offProbeID  = int(unsafe.Offsetof(bpf.TracePathEvent{}.ProbeId))
	offStackLen = int(unsafe.Offsetof(bpf.TracePathEvent{}.StackLen))
	offStack    = int(unsafe.Offsetof(bpf.TracePathEvent{}.Stack))
)

// DecodePath fills ev from one path-tracing record. steps names the probe
// ids of the tracepoint programs as a step's Func ("tp:NAME"; id i+1 is
// steps[i]), made once so that no step builds its name.
func (d *Decoder) DecodePath(raw []byte, ev *event.Event, steps []string) error {
	// Without --output-stack the record ends where the stack would start.
	if len(raw) < offStack {
		return fmt.Errorf("short path event: %d bytes, want at least %d", len(raw), offStack)
	}
	// struct path_event starts with a struct event.
	if err := d.decode(raw[:eventSize], ev); err != nil {
		return err
	}
	if ev.Kind != event.KindDrop {
		ev.Reason, ev.ReasonCode, ev.Location = "", 0, ""
	}
	ev.Path = binary.NativeEndian.Uint64(raw[offPath:])
	ip := binary.NativeEndian.Uint64(raw[offFuncIP:])
	id := binary.NativeEndian.Uint32(raw[offProbeID:])
	ev.Func = d.funcName(ip, id, ev.Kind, steps)
	n := int(binary.NativeEndian.Uint32(raw[offStackLen:])) / 8
	ev.Stack = nil
	for i := 0; i < n && offStack+8*i+8 <= len(raw); i++ {
		frame := d.symbolize(binary.NativeEndian.Uint64(raw[offStack+8*i:]))
		if len(ev.Stack) == 0 && isTracingFrame(frame) {
			continue
		}
		ev.Stack = append(ev.Stack, frame)
	}
	return nil
}

// tracingFrames start the names of the frames that the probe itself adds
// on top of the kernel's stack: the BPF program and what calls it.
var tracingFrames = []string{"bpf_prog_", "bpf_trace_run", "__traceiter_", "__bpf_trace_",
	"trace_call_bpf", "kprobe_", "fprobe", "ftrace_", "bpf_trampoline", "arch_ftrace_", "0x"}

func isTracingFrame(frame string) bool {
	for _, p := range tracingFrames {
		if strings.HasPrefix(frame, p) {
			return true
		}
	}
	return strings.HasSuffix(frame, "[bpf]")
}

// TracepointStep is how a step at tracepoint name is named (event.Func).
func TracepointStep(name string) string { return "tp:" + name }

func (d *Decoder) funcName(ip uint64, id uint32, kind event.Kind, steps []string) string {
	switch {
	case ip != 0:
		name, _, _ := strings.Cut(d.symbolize(ip), "+")
		return name
	case id > 0 && int(id) <= len(steps):
		return steps[id-1]
	case kind == event.KindDrop:
		return "tp:kfree_skb"
	case kind == event.KindConsume:
		return "tp:consume_skb"
	}
	return "?"
}

func (d *Decoder) symbolize(addr uint64) string {
	if d.Symbols == nil {
		return fmt.Sprintf("0x%x", addr)
	}
	return d.Symbols.Symbolize(addr)
}
