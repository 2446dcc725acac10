package output

import (
	"strconv"
	"time"

	"github.com/droptrace/droptrace/event"
)

// jsonTCPInfo is the tcp_info object of the JSON schema.
type jsonTCPInfo struct {
	Gone         bool   `json:"gone"`
	State        string `json:"state"`
	RTT          uint32 `json:"rtt_us"`
	RTTVar       uint32 `json:"rttvar_us"`
	RTO          uint32 `json:"rto_us"`
	Retransmits  uint8  `json:"retransmits"`
	TotalRetrans uint32 `json:"total_retrans"`
	Lost         uint32 `json:"lost"`
	Sacked       uint32 `json:"sacked"`
	Unacked      uint32 `json:"unacked"`
	SndCwnd      uint32 `json:"snd_cwnd"`
	SndSsthresh  uint32 `json:"snd_ssthresh"`
	RcvQueue     uint32 `json:"rcv_queue"`
	SendQueue    uint32 `json:"send_queue"`
	DeliveryRate uint64 `json:"delivery_rate"`
	AtEvent      bool   `json:"at_event"`
	LookedUp     bool   `json:"looked_up"`
}

func newJSONTCPInfo(ti *event.TCPInfo) *jsonTCPInfo {
	if ti == nil {
		return nil
	}
	j := jsonTCPInfo(*ti)
	return &j
}

// appendTCPText appends what a text line adds for a TCP socket, e.g.
// " state=ESTABLISHED rtt=1.2ms rto=204ms retrans=3/7 cwnd=10", then
// " gone" when the look-up after the event found no socket; nothing when
// the event has no socket.
func appendTCPText(b []byte, ev *event.Event) []byte {
	if ev.TCPState != "" {
		b = append(b, " state="...)
		b = append(b, ev.TCPState...)
	}
	ti := ev.TCPInfo
	if ti == nil {
		return b
	}
	if ti.AtEvent || !ti.Gone {
		b = appendTCPNumbers(b, ti)
	}
	if ti.Gone {
		b = append(b, " gone"...)
	}
	return b
}

func appendTCPNumbers(b []byte, ti *event.TCPInfo) []byte {
	b = append(b, " rtt="...)
	b = appendMicros(b, ti.RTT)
	b = append(b, " rto="...)
	b = appendMicros(b, ti.RTO)
	b = append(b, " retrans="...)
	b = strconv.AppendUint(b, uint64(ti.Retransmits), 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(ti.TotalRetrans), 10)
	b = append(b, " cwnd="...)
	return strconv.AppendUint(b, uint64(ti.SndCwnd), 10)
}

// appendMicros appends a µs duration as ss prints it: in ms, with what
// precision the value has, e.g. "1.2ms", "204ms", "0.052ms".
func appendMicros(b []byte, us uint32) []byte {
	ms := float64(us) / float64(time.Millisecond/time.Microsecond)
	b = strconv.AppendFloat(b, ms, 'f', -1, 64)
	return append(b, "ms"...)
}
