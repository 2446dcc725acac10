package sockdiag

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/nsfs"
)

// ErrSocketGone means no socket with the tuple (and cookie) exists any more.
var ErrSocketGone = errors.New("socket gone")

// TCPSocket is what sock_diag reports about one TCP socket.
type TCPSocket struct {
	State  uint8  // TCP state, e.g. 1 for ESTABLISHED
	Cookie uint64 // socket cookie
	RQueue uint32 // bytes received, not read (ss Recv-Q)
	WQueue uint32 // bytes sent, not acknowledged (ss Send-Q)
	// Info is the socket's tcp_info; nil for a socket that has none
	// (TIME_WAIT, NEW_SYN_RECV).
	Info *netlink.TCPInfo
}

// Client looks TCP sockets up through netlink sock_diag (INET_DIAG) in
// the network namespace they live in, with one netlink handle per
// namespace, opened on first use and closed after a minute unused.
type Client struct {
	Netns   *nsfs.Index
	Timeout time.Duration // netlink receive timeout of each look-up

	handles *nsfs.Cache[*diagHandle]
}

type diagHandle struct {
	mu sync.Mutex // a netlink socket carries one request at a time
	h  *netlink.Handle
}

// NewSockDiag returns a Client that finds namespaces through netns.
func New(idx *nsfs.Index) *Client {
	d := &Client{Netns: idx, Timeout: time.Second}
	d.handles = nsfs.NewCache(time.Minute, d.open, closeHandle)
	return d
}

// LookupTCP returns the TCP socket of namespace ino whose local and remote
// ends are local and remote; with a cookie other than 0, only the socket
// with that cookie. A socket that does not exist is ErrSocketGone.
func (d *Client) LookupTCP(ino uint32, local, remote netip.AddrPort, cookie uint64) (*TCPSocket, error) {
	h, err := d.handles.Get(ino)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// An IPv4 connection may belong to a dual-stack AF_INET6 socket, which
	// shows its addresses v4-mapped.
	families := []uint8{unix.AF_INET6}
	if local.Addr().Is4() {
		families = []uint8{unix.AF_INET, unix.AF_INET6}
	}
	for _, fam := range families {
		resps, err := h.h.SocketDiagTCPInfo(fam)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, fmt.Errorf("sock_diag dump in netns %d: %w", ino, err)
		}
		if s := match(resps, local, remote, cookie); s != nil {
			return s, nil
		}
	}
	return nil, ErrSocketGone
}

// match finds the socket with the tuple, preferring the cookie when given.
func match(resps []*netlink.InetDiagTCPInfoResp, local, remote netip.AddrPort, cookie uint64) *TCPSocket {
	for _, r := range resps {
		m := r.InetDiagMsg
		c := uint64(m.ID.Cookie[0]) | uint64(m.ID.Cookie[1])<<32
		if cookie != 0 && c != cookie {
			continue
		}
		if addrPort(m.ID.Source, m.ID.SourcePort) != local || addrPort(m.ID.Destination, m.ID.DestinationPort) != remote {
			continue
		}
		return &TCPSocket{State: m.State, Cookie: c, RQueue: m.RQueue, WQueue: m.WQueue, Info: r.TCPInfo}
	}
	return nil
}

func addrPort(ip net.IP, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port)
}

// open makes a netlink socket inside namespace ino. It checks that the
// file still opens that namespace, since /proc/PID files get reused.
func (d *Client) open(ino uint32) (*diagHandle, error) {
	fd, err := d.Netns.Open(ino)
	if err != nil {
		return nil, err
	}
	ns := netns.NsHandle(fd)
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_INET_DIAG)
	if err != nil {
		return nil, fmt.Errorf("netlink socket in netns %d: %w", ino, err)
	}
	if err := h.SetSocketTimeout(d.Timeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink socket timeout: %w", err)
	}
	return &diagHandle{h: h}, nil
}

// closeHandle closes h, unless it is in use and wait is false.
func closeHandle(h *diagHandle, wait bool) bool {
	if wait {
		h.mu.Lock()
	} else if !h.mu.TryLock() {
		return false
	}
	h.h.Close()
	h.mu.Unlock()
	return true
}

// Close closes every netlink handle.
func (d *Client) Close() { d.handles.Close() }
