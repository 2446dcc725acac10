package output

import (
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/droptrace/droptrace/event"
)

// jsonEvent is the JSON lines schema. Every field is always present, so
// consumers such as jq need no defaults, except those of modes that add
// them (func in path tracing, stack with --output-stack); change it only
// with the README. The names of the namespace come last.
type jsonEvent struct {
	Time       string       `json:"time"`
	Kind       string       `json:"kind"`
	Reason     string       `json:"reason"`
	ReasonCode uint32       `json:"reason_code"`
	Location   string       `json:"location"`
	Netns      uint32       `json:"netns"`
	Ifindex    uint32       `json:"ifindex"`
	Ifname     string       `json:"ifname"`
	Mark       uint32       `json:"mark"`
	Proto      string       `json:"proto"`
	Src        string       `json:"src"`
	Dst        string       `json:"dst"`
	Sport      uint16       `json:"sport"`
	Dport      uint16       `json:"dport"`
	TCPFlags   string       `json:"tcp_flags"`
	Len        uint32       `json:"len"`
	CPU        uint32       `json:"cpu"`
	Skb        string       `json:"skb"`
	TCPState   string       `json:"tcp_state"`
	SockCookie uint64       `json:"sock_cookie"`
	TCPInfo    *jsonTCPInfo `json:"tcp_info"`
	// Netfilter is the rule of a NETFILTER_DROP, when attributed; its
	// schema is event.Netfilter's JSON tags.
	Netfilter *event.Netfilter `json:"netfilter,omitempty"`
	Func      string           `json:"func,omitempty"`
	Path      string           `json:"path,omitempty"`
	Stack     []string         `json:"stack,omitempty"`
	Explain   *jsonExplain     `json:"explain,omitempty"`
	// Names of the network namespace (annotation), "" when unknown.
	NetnsName    string `json:"netns_name"`
	Pod          string `json:"pod"`
	PodNamespace string `json:"pod_namespace"`
	Container    string `json:"container"`
}

type jsonLines struct {
	w    io.Writer
	line []byte // reused: a line per event must not cost allocations
	objs jsonObjects
}

// NewJSON returns an event.Writer that writes one JSON object per line to w, as
// soon as each event arrives; w is not closed by Close. Strings are not
// HTML-escaped: locations such as "<unknown>" stay readable.
func NewJSON(w io.Writer) event.Writer {
	return &jsonLines{w: w}
}

func (j *jsonLines) Write(ev *event.Event) error {
	var err error
	if j.line, err = appendJSONEvent(j.line[:0], ev, &j.objs); err == nil {
		_, err = j.w.Write(j.line)
	}
	if err != nil {
		return fmt.Errorf("writing json event: %w", err)
	}
	return nil
}

func (j *jsonLines) Close() error { return nil }

// newJSONEvent is ev in the schema. The writer appends the same bytes
// without it (appendJSONEvent); tests hold the two to each other.
func newJSONEvent(ev *event.Event) jsonEvent {
	j := jsonEvent{
		// The offset the event carries is kept: RFC 3339 makes any offset
		// unambiguous, and the decoder's local time is what users expect.
		Time:       ev.Time.Format(time.RFC3339Nano),
		Kind:       string(ev.Kind),
		Reason:     ev.Reason,
		ReasonCode: ev.ReasonCode,
		Location:   ev.Location,
		Netns:      ev.Netns,
		Ifindex:    ev.Ifindex,
		Ifname:     ev.Ifname,
		Mark:       ev.Mark,
		Proto:      ev.Proto,
		Src:        addrText(ev.Src),
		Dst:        addrText(ev.Dst),
		Sport:      ev.Sport,
		Dport:      ev.Dport,
		TCPFlags:   TCPFlagsText(ev.TCPFlags),
		Len:        ev.Len,
		CPU:        ev.CPU,
		Skb:        fmt.Sprintf("%#x", ev.Skb),
		Func:       ev.Func,
		Path:       ev.PathID(),
		Stack:      ev.Stack,
		TCPState:   ev.TCPState,
		SockCookie: ev.SockCookie,
		TCPInfo:    newJSONTCPInfo(ev.TCPInfo),
		Explain:    newJSONExplain(ev.Explain),
		Netfilter:  ev.Netfilter,
	}
	if p := ev.Pod; p != nil {
		j.NetnsName, j.Pod, j.PodNamespace, j.Container = p.NetnsName, p.Name, p.Namespace, p.Container
	}
	return j
}

// addrText is "" for an invalid address, which netip would print as
// "invalid IP".
func addrText(addr netip.Addr) string {
	if !addr.IsValid() {
		return ""
	}
	return addr.String()
}
