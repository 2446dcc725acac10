package output

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/droptrace/droptrace/event"
)

// appendJSONEvent appends ev as one JSON line: byte for byte what
// encoding/json writes for newJSONEvent(ev) with HTML escaping off (the
// schema is jsonEvent's), without its reflection and allocations, which
// cost several times the rest of droptrace per event in a storm. The
// explain object, rare and nested, still goes through encoding/json.
func appendJSONEvent(b []byte, ev *event.Event, sub *jsonObjects) ([]byte, error) {
	b = append(b, `{"time":"`...)
	b = ev.Time.AppendFormat(b, time.RFC3339Nano)
	b = appendJSONField(b, `","kind":`, string(ev.Kind))
	b = appendJSONField(b, `,"reason":`, ev.Reason)
	b = appendJSONUint(b, `,"reason_code":`, uint64(ev.ReasonCode))
	b = appendJSONField(b, `,"location":`, ev.Location)
	b = appendJSONUint(b, `,"netns":`, uint64(ev.Netns))
	b = appendJSONUint(b, `,"ifindex":`, uint64(ev.Ifindex))
	b = appendJSONField(b, `,"ifname":`, ev.Ifname)
	b = appendJSONUint(b, `,"mark":`, uint64(ev.Mark))
	b = appendJSONField(b, `,"proto":`, ev.Proto)
	b = appendJSONAddr(b, `,"src":`, ev.Src)
	b = appendJSONAddr(b, `,"dst":`, ev.Dst)
	b = appendJSONUint(b, `,"sport":`, uint64(ev.Sport))
	b = appendJSONUint(b, `,"dport":`, uint64(ev.Dport))
	b = append(b, `,"tcp_flags":"`...)
	b = append(appendTCPFlags(b, ev.TCPFlags), '"')
	b = appendJSONUint(b, `,"len":`, uint64(ev.Len))
	b = appendJSONUint(b, `,"cpu":`, uint64(ev.CPU))
	b = append(b, `,"skb":"0x`...)
	b = append(strconv.AppendUint(b, ev.Skb, 16), '"')
	b = appendJSONField(b, `,"tcp_state":`, ev.TCPState)
	b = appendJSONUint(b, `,"sock_cookie":`, ev.SockCookie)
	b = append(b, `,"tcp_info":`...)
	b = appendJSONTCPInfo(b, ev.TCPInfo)
	b, err := appendJSONOptional(b, ev, sub)
	if err != nil {
		return b, err
	}
	var p event.Pod
	if ev.Pod != nil {
		p = *ev.Pod
	}
	b = appendJSONField(b, `,"netns_name":`, p.NetnsName)
	b = appendJSONField(b, `,"pod":`, p.Name)
	b = appendJSONField(b, `,"pod_namespace":`, p.Namespace)
	b = appendJSONField(b, `,"container":`, p.Container)
	return append(b, "}\n"...), nil
}

// appendJSONOptional appends the fields omitted when empty: netfilter,
// func, path, stack and explain.
func appendJSONOptional(b []byte, ev *event.Event, sub *jsonObjects) ([]byte, error) {
	var err error
	if ev.Netfilter != nil {
		b = append(b, `,"netfilter":`...)
		if b, err = sub.netfilter(b, ev.Netfilter); err != nil {
			return b, err
		}
	}
	if ev.Func != "" {
		b = appendJSONField(b, `,"func":`, ev.Func)
	}
	if ev.Path != 0 {
		b = append(b, `,"path":"0x`...)
		b = strconv.AppendUint(b, ev.Skb, 16)
		b = append(b, '-')
		b = append(strconv.AppendUint(b, ev.Path, 10), '"')
	}
	if len(ev.Stack) > 0 {
		b = append(b, `,"stack":[`...)
		for i, s := range ev.Stack {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	if ev.Explain != nil {
		b = append(b, `,"explain":`...)
		if b, err = sub.encode(b, newJSONExplain(ev.Explain)); err != nil {
			return b, err
		}
	}
	return b, nil
}

func appendJSONTCPInfo(b []byte, ti *event.TCPInfo) []byte {
	if ti == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"gone":`...)
	b = strconv.AppendBool(b, ti.Gone)
	b = appendJSONField(b, `,"state":`, ti.State)
	b = appendJSONUint(b, `,"rtt_us":`, uint64(ti.RTT))
	b = appendJSONUint(b, `,"rttvar_us":`, uint64(ti.RTTVar))
	b = appendJSONUint(b, `,"rto_us":`, uint64(ti.RTO))
	b = appendJSONUint(b, `,"retransmits":`, uint64(ti.Retransmits))
	b = appendJSONUint(b, `,"total_retrans":`, uint64(ti.TotalRetrans))
	b = appendJSONUint(b, `,"lost":`, uint64(ti.Lost))
	b = appendJSONUint(b, `,"sacked":`, uint64(ti.Sacked))
	b = appendJSONUint(b, `,"unacked":`, uint64(ti.Unacked))
	b = appendJSONUint(b, `,"snd_cwnd":`, uint64(ti.SndCwnd))
	b = appendJSONUint(b, `,"snd_ssthresh":`, uint64(ti.SndSsthresh))
	b = appendJSONUint(b, `,"rcv_queue":`, uint64(ti.RcvQueue))
	b = appendJSONUint(b, `,"send_queue":`, uint64(ti.SendQueue))
	b = appendJSONUint(b, `,"delivery_rate":`, ti.DeliveryRate)
	b = append(b, `,"at_event":`...)
	b = strconv.AppendBool(b, ti.AtEvent)
	b = append(b, `,"looked_up":`...)
	b = strconv.AppendBool(b, ti.LookedUp)
	return append(b, '}')
}

// jsonObjects encodes the nested objects left to encoding/json. A
// storm's events share one netfilter annotation (the annotator gives the
// events of a flow the same one, and never changes it), so the last one
// is encoded once.
type jsonObjects struct {
	buf    bytes.Buffer
	enc    *json.Encoder
	lastNF *event.Netfilter
	nf     []byte
}

func (o *jsonObjects) netfilter(b []byte, nf *event.Netfilter) ([]byte, error) {
	if nf != o.lastNF || o.nf == nil {
		enc, err := o.encode(o.nf[:0], nf)
		if err != nil {
			return b, err
		}
		o.lastNF, o.nf = nf, enc
	}
	return append(b, o.nf...), nil
}

// encode appends v as encoding/json writes it with HTML escaping off.
func (o *jsonObjects) encode(b []byte, v any) ([]byte, error) {
	if o.enc == nil {
		o.enc = json.NewEncoder(&o.buf)
		o.enc.SetEscapeHTML(false)
	}
	o.buf.Reset()
	if err := o.enc.Encode(v); err != nil {
		return b, err
	}
	return append(b, bytes.TrimSuffix(o.buf.Bytes(), []byte{'\n'})...), nil
}

func appendJSONField(b []byte, name, s string) []byte {
	return appendJSONString(append(b, name...), s)
}

func appendJSONUint(b []byte, name string, v uint64) []byte {
	return strconv.AppendUint(append(b, name...), v, 10)
}

// appendJSONAddr appends an address as addrText does: "" when invalid.
func appendJSONAddr(b []byte, name string, addr netip.Addr) []byte {
	b = append(b, name...)
	b = append(b, '"')
	if addr.IsValid() {
		b = addr.AppendTo(b)
	}
	return append(b, '"')
}

// appendJSONString appends s quoted as encoding/json does without HTML
// escaping: control characters, quotes and backslashes escaped, invalid
// UTF-8 as U+FFFD, and U+2028 and U+2029 escaped for JavaScript.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = appendJSONEscape(append(b, s[start:i]...), c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case utf8.RuneError:
				b = append(b, `\ufffd`...)
			default:
				b = append(b, `\u202`...)
				b = append(b, jsonHex[r&0xF])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const jsonHex = "0123456789abcdef"

func appendJSONEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', jsonHex[c>>4], jsonHex[c&0xF])
}
