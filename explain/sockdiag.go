package explain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// diagSocket is one socket as sock_diag reports it with SKMEMINFO, the
// memory counters ss -m prints as skmem:(r,rb,t,tb,f,w,o,bl,d).
type diagSocket struct {
	proto         string // "tcp" or "udp"
	state         uint8
	local, remote netip.AddrPort
	inode         uint32
	cookie        uint64
	rqueue        uint32
	v6only        bool     // an AF_INET6 socket that takes no IPv4 (IPV6_V6ONLY)
	mem           []uint32 // SK_MEMINFO_*: nil when the kernel sent none
}

// The SK_MEMINFO_* indices (uapi linux/sock_diag.h).
const (
	memRmemAlloc = 0
	memRcvbuf    = 1
	memBacklog   = 7
	memDrops     = 8
)

const (
	inetDiagSKMemInfo = 7  // INET_DIAG_SKMEMINFO
	inetDiagSKV6Only  = 11 // INET_DIAG_SKV6ONLY, sent for every AF_INET6 socket
	sizeofDiagReq     = 56 // struct inet_diag_req_v2
	sizeofDiagMsg     = 72 // struct inet_diag_msg
	tcpListen         = 10
)

// diagRequest is struct inet_diag_req_v2 asking for every socket of a
// family and protocol with their memory counters.
type diagRequest struct {
	family, protocol uint8
}

func (r *diagRequest) Len() int { return sizeofDiagReq }

func (r *diagRequest) Serialize() []byte {
	b := make([]byte, sizeofDiagReq)
	b[0], b[1] = r.family, r.protocol
	b[2] = 1 << (inetDiagSKMemInfo - 1)
	binary.NativeEndian.PutUint32(b[4:], 0xfff) // every state
	return b
}

// dumpSockets returns the namespace's sockets of proto ("tcp", "udp"),
// both families, with their memory counters.
func (c *conn) dumpSockets(proto string) ([]diagSocket, error) {
	ipproto := uint8(unix.IPPROTO_UDP)
	if proto == "tcp" {
		ipproto = unix.IPPROTO_TCP
	}
	var out []diagSocket
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		req := nl.NewNetlinkRequest(nl.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP)
		req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_INET_DIAG: {Socket: c.diag}}
		req.AddData(&diagRequest{family: fam, protocol: ipproto})
		var perr error
		err := req.ExecuteIter(unix.NETLINK_INET_DIAG, nl.SOCK_DIAG_BY_FAMILY, func(msg []byte) bool {
			s, err := parseDiagMsg(msg, proto)
			if err != nil {
				perr = err
				return false
			}
			out = append(out, s)
			return true
		})
		if err = errors.Join(err, perr); err != nil && !errors.Is(err, syscall.EINTR) {
			return nil, fmt.Errorf("sock_diag %s dump in netns %d: %w", proto, c.ino, err)
		}
	}
	return out, nil
}

func parseDiagMsg(msg []byte, proto string) (diagSocket, error) {
	if len(msg) < sizeofDiagMsg {
		return diagSocket{}, fmt.Errorf("sock_diag message of %d bytes", len(msg))
	}
	s := diagSocket{proto: proto, state: msg[1]}
	s.local = diagAddr(msg[0], msg[8:24], msg[4:6])
	s.remote = diagAddr(msg[0], msg[24:40], msg[6:8])
	s.cookie = uint64(binary.NativeEndian.Uint32(msg[44:])) | uint64(binary.NativeEndian.Uint32(msg[48:]))<<32
	s.rqueue = binary.NativeEndian.Uint32(msg[56:])
	s.inode = binary.NativeEndian.Uint32(msg[68:])
	attrs, err := nl.ParseRouteAttr(msg[sizeofDiagMsg:])
	if err != nil {
		return diagSocket{}, fmt.Errorf("sock_diag attributes: %w", err)
	}
	for _, a := range attrs {
		switch a.Attr.Type {
		case inetDiagSKMemInfo:
			for i := 0; i+4 <= len(a.Value); i += 4 {
				s.mem = append(s.mem, binary.NativeEndian.Uint32(a.Value[i:]))
			}
		case inetDiagSKV6Only:
			s.v6only = len(a.Value) > 0 && a.Value[0] != 0
		}
	}
	return s, nil
}

// diagAddr reads an address of family fam and a big-endian port; v4-mapped
// addresses of dual-stack sockets are unmapped.
func diagAddr(fam uint8, addr, port []byte) netip.AddrPort {
	var a netip.Addr
	if fam == unix.AF_INET {
		a = netip.AddrFrom4([4]byte(addr[:4]))
	} else {
		a = netip.AddrFrom16([16]byte(addr[:16])).Unmap()
	}
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(port))
}

// memValue returns a memory counter, or -1 when the kernel did not send it.
func (s diagSocket) memValue(i int) int64 {
	if i >= len(s.mem) {
		return -1
	}
	return int64(s.mem[i])
}
