package tracer

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/kernel"
)

// replyPrograms keep, per CPU, the last ICMP error sent (icmp:icmp_send,
// with the skb it answers) and the last packet queued for transmission
// (net:net_dev_queue), so that a drop can be linked to the reply its
// REJECT sent just before. Loaded with Config.Replies only: they run on
// every ICMP error and every transmitted packet of the machine (a per-CPU
// slot lookup and two stores each).
var replyPrograms = []string{bpf.DropProgIcmpSendBtf, bpf.DropProgNetDevQueueBtf}

// repliesTraceable says whether the kernel has both tracepoints.
func repliesTraceable(kspec *btf.Spec) bool {
	for _, tp := range []string{"icmp_send", "net_dev_queue"} {
		if _, err := kernel.TracepointParams(kspec, tp); err != nil {
			return false
		}
	}
	return true
}

// attachReplies attaches the reply programs the collection holds; none
// when they were not loaded.
func attachReplies(coll *ebpf.Collection) ([]link.Link, error) {
	var links []link.Link
	for _, name := range replyPrograms {
		prog := coll.Programs[name]
		if prog == nil {
			continue
		}
		l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			closeLinks(links)
			return nil, fmt.Errorf("attaching %s: %w", name, err)
		}
		links = append(links, l)
	}
	return links, nil
}

func closeLinks(links []link.Link) error {
	var errs []error
	for _, l := range links {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// Replies says whether drops are linked to the replies sent for them.
func (t *Tracer) Replies() bool { return len(t.replyLinks) > 0 }

// decodeReply keeps the reply a drop program saw sent for the drop.
func decodeReply(re *bpf.DropEvent, ev *event.Event) {
	if ev.Kind != event.KindDrop {
		return
	}
	switch bpf.DropReplyKind(re.Reply) {
	case bpf.DropReplyKindREPLY_ICMP:
		ev.Reply = &event.ReplySeen{Proto: "icmp", Type: re.ReplyType, Code: re.ReplyCode}
	case bpf.DropReplyKindREPLY_ICMP6:
		ev.Reply = &event.ReplySeen{Proto: "icmp6", Type: re.ReplyType, Code: re.ReplyCode}
	case bpf.DropReplyKindREPLY_TCP_RESET:
		ev.Reply = &event.ReplySeen{Proto: "tcp"}
	}
}
