package netfilter

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// multiport is struct xt_multiport_v1: flags (0 source, 1 destination, 2
// either), count, ports[15] (host order), pflags[15] (port i starts a
// range to port i+1), invert.
type multiport struct {
	flags  uint8
	ports  []uint16
	pflags []uint8
	invert bool
}

func parseMultiport(e *expr.Match) (*multiport, bool) {
	raw, ok := e.Info.(*xt.Unknown)
	if e.Name != "multiport" || e.Rev != 1 || !ok || len(*raw) < 48 {
		return nil, false
	}
	b := []byte(*raw)
	n := int(b[1])
	if n > 15 || b[0] > 2 {
		return nil, false
	}
	mp := &multiport{flags: b[0], invert: b[47] != 0}
	for i := range n {
		mp.ports = append(mp.ports, binary.NativeEndian.Uint16(b[2+2*i:]))
		mp.pflags = append(mp.pflags, b[32+i])
	}
	return mp, true
}

func (mp *multiport) text() string {
	flag := [...]string{"--sports", "--dports", "--ports"}[mp.flags]
	var items []string
	for i := 0; i < len(mp.ports); i++ {
		s := strconv.Itoa(int(mp.ports[i]))
		if mp.pflags[i] != 0 && i+1 < len(mp.ports) {
			i++
			s += ":" + strconv.Itoa(int(mp.ports[i]))
		}
		items = append(items, s)
	}
	not := ""
	if mp.invert {
		not = "! "
	}
	return "-m multiport " + not + flag + " " + strings.Join(items, ",")
}

// matches is xt_multiport's test on the packet's ports.
func (mp *multiport) matches(p *Packet) tri {
	if !p.hasPorts() {
		return maybe
	}
	in := func(v uint16) bool {
		for i := 0; i < len(mp.ports); i++ {
			lo, hi := mp.ports[i], mp.ports[i]
			if mp.pflags[i] != 0 && i+1 < len(mp.ports) {
				i++
				hi = mp.ports[i]
			}
			if v >= lo && v <= hi {
				return true
			}
		}
		return false
	}
	var hit bool
	switch mp.flags {
	case 0:
		hit = in(p.Sport)
	case 1:
		hit = in(p.Dport)
	default:
		hit = in(p.Sport) || in(p.Dport)
	}
	return triOf(hit != mp.invert)
}
