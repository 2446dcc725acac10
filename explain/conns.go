package explain

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/nsfs"
)

// conn is what the look-ups of one network namespace use: a file
// descriptor of the namespace (for sysctls and peers), a rtnetlink and
// sock_diag handle, and a raw sock_diag socket for requests the library
// does not make (SKMEMINFO).
type conn struct {
	ino  uint32
	ns   netns.NsHandle
	h    *netlink.Handle
	diag *nl.NetlinkSocket
}

type conns struct {
	netns   *nsfs.Index
	timeout time.Duration
	cache   *nsfs.Cache[*conn]
}

func newConns(idx *nsfs.Index, timeout, idleClose time.Duration) *conns {
	cs := &conns{netns: idx, timeout: timeout}
	cs.cache = nsfs.NewCache(idleClose, cs.open, func(c *conn, _ bool) bool { c.close(); return true })
	return cs
}

// get returns the namespace's conn, opening it when needed.
func (cs *conns) get(ino uint32) (*conn, error) { return cs.cache.Get(ino) }

// open opens namespace ino, checking that the file found for it still
// opens it (a /proc/PID file may belong to another process by now).
func (cs *conns) open(ino uint32) (*conn, error) {
	ns, err := openNetns(cs.netns, ino)
	if err != nil {
		return nil, err
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE, unix.NETLINK_INET_DIAG)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink socket in netns %d: %w", ino, err)
	}
	c := &conn{ino: ino, ns: ns, h: h}
	if err := h.SetSocketTimeout(cs.timeout); err != nil {
		c.close()
		return nil, fmt.Errorf("netlink socket timeout: %w", err)
	}
	cur, err := netns.Get()
	if err != nil {
		c.close()
		return nil, fmt.Errorf("current netns: %w", err)
	}
	defer cur.Close()
	if c.diag, err = nl.GetNetlinkSocketAt(ns, cur, unix.NETLINK_INET_DIAG); err != nil {
		c.close()
		return nil, fmt.Errorf("sock_diag socket in netns %d: %w", ino, err)
	}
	tv := unix.NsecToTimeval(cs.timeout.Nanoseconds())
	if err := errors.Join(c.diag.SetReceiveTimeout(&tv), c.diag.SetSendTimeout(&tv)); err != nil {
		c.close()
		return nil, fmt.Errorf("sock_diag socket timeout: %w", err)
	}
	return c, nil
}

func openNetns(idx *nsfs.Index, ino uint32) (netns.NsHandle, error) {
	fd, err := idx.Open(ino)
	return netns.NsHandle(fd), err
}

func (c *conn) close() {
	if c.diag != nil {
		c.diag.Close()
	}
	if c.h != nil {
		c.h.Close()
	}
	c.ns.Close()
}

func (cs *conns) closeAll() { cs.cache.Close() }

// inNetns runs f on a thread of its own that has entered the conn's
// namespace: /proc/sys/net shows the namespace of the thread that opens
// it. The thread goes back to its namespace afterwards; if it cannot,
// its goroutine ends still locked to it, and Go retires the thread rather
// than run anything else in the wrong namespace.
func (c *conn) inNetns(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- fmt.Errorf("current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(c.ns); err != nil {
			done <- fmt.Errorf("entering netns %d: %w", c.ino, err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			done <- fmt.Errorf("leaving netns %d: %w", c.ino, err)
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

// sysctls reads sysctls of the conn's namespace, given as paths under
// /proc/sys ("net/ipv4/conf/eth0/rp_filter"), and returns them keyed by
// the names sysctl prints ("net.ipv4.conf.eth0.rp_filter"; a dot in a
// device name becomes a slash). A value that cannot be read is "?".
func (c *conn) sysctls(paths ...string) ([]event.Evidence, error) {
	out := make([]event.Evidence, len(paths))
	err := c.inNetns(func() error {
		for i, p := range paths {
			out[i] = event.Evidence{Key: sysctlName(p), Value: readSysctl(p)}
		}
		return nil
	})
	return out, err
}

func sysctlName(path string) string {
	return strings.NewReplacer(".", "/", "/", ".").Replace(path)
}

func readSysctl(path string) string {
	b, err := os.ReadFile("/proc/sys/" + path)
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
