package explain

import "github.com/droptrace/droptrace/event"

// Routine frees are skbs the kernel frees through kfree_skb that are not
// packets lost on their way: an idle machine makes a steady trickle of
// them. They are hidden by default and shown with the flag that shows
// everything.
//
//   - reasons that are not drops: NOT_DROPPED_YET, CONSUMED;
//   - QUEUE_PURGE: a whole queue freed because its socket or device went away;
//   - IPV6_NDISC_NS_OTHERHOST: a neighbour solicitation for another host's
//     address that reached this one (solicited-node groups are shared);
//   - NOT_SPECIFIED at ip6_mc_input: IPv6 multicast to a group this host
//     has not joined (the router and mDNS chatter of every IPv6 link);
//   - NOT_SPECIFIED at the socket destructors and queue purges
//     (udp_destruct_common, udp_destruct_sock, inet_sock_destruct,
//     sk_stream_kill_queues, skb_queue_purge_reason): data left unread in
//     a socket its application closed.
var (
	routineReasons = map[string]bool{
		"NOT_DROPPED_YET": true, "CONSUMED": true, "QUEUE_PURGE": true,
		"IPV6_NDISC_NS_OTHERHOST": true,
	}
	routineSites = map[string]bool{
		"ip6_mc_input": true, "udp_destruct_common": true, "udp_destruct_sock": true,
		"inet_sock_destruct": true, "sk_stream_kill_queues": true, "skb_queue_purge_reason": true,
	}
)

// Routine reports whether ev is a routine free rather than packet loss
// (see the list above). Only drops can be routine.
func Routine(ev *event.Event) bool {
	return ev.Kind == event.KindDrop && RoutineAt(ev.Reason, ev.Location)
}

// RoutineAt is Routine for a reason and a location, e.g. of a --summary
// row.
func RoutineAt(reason, location string) bool {
	if routineReasons[reason] {
		return true
	}
	// Kernels before 5.17 have no reasons: the location alone decides.
	return (reason == "NOT_SPECIFIED" || reason == "") && routineSites[Symbol(location)]
}
