package tcpinfo

import (
	"errors"
	"net/netip"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/sockdiag"
)

// connectionStates are the states of a full TCP socket with a peer, the
// sockets that have a tcp_info. A listener, a request (NEW_SYN_RECV) and
// a TIME_WAIT socket have none, so their events are not looked up.
var connectionStates = map[string]bool{
	"ESTABLISHED": true, "SYN_SENT": true, "SYN_RECV": true, "FIN_WAIT1": true,
	"FIN_WAIT2": true, "CLOSE": true, "CLOSE_WAIT": true, "LAST_ACK": true, "CLOSING": true,
}

// FlowOf returns the socket an event belongs to, and whether it has one
// worth looking up.
func FlowOf(ev *event.Event) (Flow, bool) {
	if ev.Proto != "tcp" || ev.Netns == 0 || !connectionStates[ev.TCPState] || !ev.Src.IsValid() || !ev.Dst.IsValid() {
		return Flow{}, false
	}
	src := netip.AddrPortFrom(ev.Src, ev.Sport)
	dst := netip.AddrPortFrom(ev.Dst, ev.Dport)
	if ev.SockSrcLocal {
		return Flow{Netns: ev.Netns, Local: src, Remote: dst}, true
	}
	return Flow{Netns: ev.Netns, Local: dst, Remote: src}, true
}

// SockDiagLookup looks flows up through d.
func SockDiagLookup(d *sockdiag.Client) Lookup {
	return func(f Flow, cookie uint64) (*event.TCPInfo, error) {
		s, err := d.LookupTCP(f.Netns, f.Local, f.Remote, cookie)
		if errors.Is(err, sockdiag.ErrSocketGone) {
			return &event.TCPInfo{Gone: true}, nil
		}
		if err != nil {
			return nil, err
		}
		return tcpInfo(s), nil
	}
}

// tcpInfo converts what sock_diag reported. A socket without tcp_info is
// a TIME_WAIT one: the connection's socket is gone.
func tcpInfo(s *sockdiag.TCPSocket) *event.TCPInfo {
	ti := &event.TCPInfo{State: event.TCPStateName(s.State), RcvQueue: s.RQueue, SendQueue: s.WQueue}
	i := s.Info
	if i == nil {
		ti.Gone = true
		return ti
	}
	ti.RTT, ti.RTTVar, ti.RTO = i.Rtt, i.Rttvar, i.Rto
	ti.Retransmits, ti.TotalRetrans = i.Retransmits, i.Total_retrans
	ti.Lost, ti.Sacked, ti.Unacked = i.Lost, i.Sacked, i.Unacked
	ti.SndCwnd, ti.SndSsthresh = i.Snd_cwnd, i.Snd_ssthresh
	ti.DeliveryRate = i.Delivery_rate
	return ti
}
