package event

// Kind says what happened to the packet or socket of an Event. Its value
// is the name JSON and text show, so the names live in one place: here.
type Kind string

// The kinds of events. A new kind is one line here plus its decoding in
// the tracer.
const (
	KindDrop             Kind = "drop"              // the kernel freed the packet as a drop
	KindConsume          Kind = "consume"           // path tracing: the packet's life ended normally
	KindTrace            Kind = "trace"             // path tracing: the packet passed a function or tracepoint
	KindRetransmit       Kind = "retransmit"        // --tcp: a segment was retransmitted
	KindRetransmitSynack Kind = "retransmit_synack" // --tcp: a SYN-ACK was retransmitted
	KindResetSent        Kind = "reset_sent"        // --tcp: the host sent a reset
	KindResetReceived    Kind = "reset_received"    // --tcp: the host received a reset
)

// IsTCP says whether k is one of the --tcp socket event kinds.
func (k Kind) IsTCP() bool {
	switch k {
	case KindRetransmit, KindRetransmitSynack, KindResetSent, KindResetReceived:
		return true
	}
	return false
}

// String returns the kind's name.
func (k Kind) String() string { return string(k) }
