package attach

// Role is what a probe may do with the skb it gets (bpf/trace.c).
type Role int

const (
	// RoleFollow reports skbs whose path is live, and nothing else.
	RoleFollow Role = iota
	// RoleStart also starts the path of an skb that matches the filters:
	// only where the skb is surely live and new skbs show up.
	RoleStart
	// RoleBlind reports live paths from the probe's own arguments only,
	// never reading the skb: the probe may fire after the skb was freed.
	RoleBlind
	// RoleGone ends a path whose skb is being freed where no tracepoint
	// fired, reading only the pointer.
	RoleGone
)

// startFuncs are where a packet enters the IP layer's output or input:
// the functions, besides the live tracepoints, at which a path starts.
// Elsewhere the filters do not run, so an skb freed and reused mid-way
// (inside kfree_skb, say) can never start a path again.
var startFuncs = map[string]bool{
	"ip_local_out": true, "__ip_local_out": true, "ip6_local_out": true, "__ip6_local_out": true,
	"ip_send_skb": true, "ip6_send_skb": true, "ip_rcv": true, "ipv6_rcv": true,
	"ip_forward": true, "ip6_forward": true,
}

// sameSkbAs maps a start function to the start function that always
// calls it first thing with the same skb, untouched in between
// (ip_local_out's first act is to call __ip_local_out): where both are
// probed, the filters would run twice on the same bytes, so the callee
// only follows. (The caller keeps starting: the path then shows every
// step, from the first function that saw the skb.)
var sameSkbAs = map[string]string{"__ip_local_out": "ip_local_out", "__ip6_local_out": "ip6_local_out"}

// goneFuncs free an skb's memory: the last functions that see it, whether
// a kfree_skb or consume_skb tracepoint fired before or not (TCP frees
// many skbs with __kfree_skb or through the NAPI cache, which fire none).
// kfree_skb_partial frees an skb whose data another took (TCP's receive
// coalescing) straight to the slab, past kfree_skbmem.
var goneFuncs = map[string]bool{"kfree_skbmem": true, "napi_skb_cache_put": true, "kfree_skb_partial": true}

// liveTracepoints are the skb tracepoints that fire while the skb is
// surely live: they may start a path. Any other tracepoint (net_dev_xmit
// fires after the driver may have freed the skb; others are unknown) is
// blind.
var liveTracepoints = map[string]bool{
	"net_dev_queue": true, "net_dev_start_xmit": true, "netif_rx": true, "netif_receive_skb": true,
	"netif_rx_entry": true, "netif_rx_ni_entry": true, "netif_receive_skb_entry": true,
	"netif_receive_skb_list_entry": true, "napi_gro_receive_entry": true, "napi_gro_frags_entry": true,
	"skb_copy_datagram_iovec": true, "udp_fail_queue_rcv_skb": true, "sock_rcvqueue_full": true,
	"tcp_retransmit_skb": true, "tcp_send_reset": true, "tcp_probe": true, "tcp_bad_csum": true,
	"qdisc_enqueue": true, "icmp_send": true,
}

// unreachableTracepoints get an skb that no path can reach, so that a
// probe there could only ever miss. tcp_sendmsg_locked's is the skb at
// the tail of the socket's write queue: it carries no headers yet (the
// filters could not match it), TCP never sends it (it transmits clones,
// at other addresses) and frees it where no tracepoint fires. Following
// an iperf3 flow it fired 100,000 times a second, every time a miss of
// 100-150 ns (6.18).
var unreachableTracepoints = map[string]bool{"tcp_sendmsg_locked": true}

// twinTracepoints fire every time right before the tracepoint they map
// to, on the same CPU with the same skb and nothing done to it in
// between: __netif_rx and netif_rx fire netif_rx_entry (netif_rx_ni,
// before 5.18, netif_rx_ni_entry), then call netif_rx_internal, whose
// first act after stamping the skb is to fire netif_rx. Probing both
// puts one place on every received packet's path twice: following an
// iperf3 flow over veth, one step in eight. netif_rx stays: it also
// fires where dev_forward_skb enters.
var twinTracepoints = map[string]string{"netif_rx_entry": "netif_rx", "netif_rx_ni_entry": "netif_rx"}

// PathTracepoints returns the skb tracepoints path tracing probes, of
// tps: not those no path can reach, nor a twin whose tracepoint is in
// tps too.
func PathTracepoints(tps []Probe) []Probe {
	have := make(map[string]bool, len(tps))
	for _, p := range tps {
		have[p.Name] = true
	}
	out := make([]Probe, 0, len(tps))
	for _, p := range tps {
		if unreachableTracepoints[p.Name] || have[twinTracepoints[p.Name]] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// taskTracepoints fire in a task with softirqs enabled: a socket's
// reader copying a packet out. An interrupt there may run the receive
// path's tracepoints on the same CPU; were their program the one running,
// the kernel would not run it again (a recursion miss), and those steps
// would be lost. Following an iperf3 flow, skb_copy_datagram_iovec
// sharing its program with netif_receive_skb and the rest cost 400 steps
// a second so (6.18).
var taskTracepoints = map[string]bool{"skb_copy_datagram_iovec": true}

// InTask says whether a tracepoint fires in a task with softirqs enabled,
// so that it must not share a program with those that fire in softirq.
func InTask(tracepoint string) bool { return taskTracepoints[tracepoint] }

// FuncRole is the role of a probed function.
func FuncRole(p Probe) Role {
	switch {
	case goneFuncs[p.Name] && p.Pos == 1:
		return RoleGone
	case startFuncs[p.Name]:
		return RoleStart
	}
	return RoleFollow
}

// FuncRoles returns the role of each of funcs when they are probed
// together: FuncRole's, but a start function whose twin in sameSkbAs is
// probed too follows.
func FuncRoles(funcs []Probe) func(Probe) Role {
	probed := make(map[string]bool, len(funcs))
	for _, f := range funcs {
		probed[f.Name] = true
	}
	return func(p Probe) Role {
		r := FuncRole(p)
		if r == RoleStart && probed[sameSkbAs[p.Name]] {
			return RoleFollow
		}
		return r
	}
}

// TracepointRole is the role of an skb tracepoint other than kfree_skb
// and consume_skb, which end paths.
func TracepointRole(name string) Role {
	if liveTracepoints[name] {
		return RoleStart
	}
	return RoleBlind
}

// ByRole splits probes by the role f gives them.
func ByRole(probes []Probe, f func(Probe) Role) map[Role][]Probe {
	m := map[Role][]Probe{}
	for _, p := range probes {
		r := f(p)
		m[r] = append(m[r], p)
	}
	return m
}
