package nftest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Sh runs a command and fails the test when it fails.
func Sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Topo is three namespaces: client —— router —— back. The router
// forwards between the other two and holds the rules under test.
type Topo struct {
	ID                   string
	Client, Router, Back string
	CIf, RcIf, RbIf, BIf string // client's, router's towards client, router's towards back, back's
}

// Addresses of the topology.
const (
	Client4, Router4, RouterB4, Back4 = "10.77.1.1", "10.77.1.2", "10.77.2.1", "10.77.2.2"
	Client6, Router6, RouterB6, Back6 = "fd77:1::1", "fd77:1::2", "fd77:2::1", "fd77:2::2"
	Blocked4                          = "10.77.1.3" // a second router address, in the native test's @blocked set
)

// NewTopo builds the namespaces, deleted when the test ends.
func NewTopo(t testing.TB) *Topo {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	tp := &Topo{ID: id, Client: "nf-c-" + id, Router: "nf-r-" + id, Back: "nf-b-" + id,
		CIf: "nf" + id + "c", RcIf: "nf" + id + "rc", RbIf: "nf" + id + "rb", BIf: "nf" + id + "b"}
	t.Cleanup(func() {
		for _, ns := range []string{tp.Client, tp.Router, tp.Back} {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	for _, ns := range []string{tp.Client, tp.Router, tp.Back} {
		Sh(t, "ip", "netns", "add", ns)
		Sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	Sh(t, "ip", "link", "add", tp.CIf, "netns", tp.Client, "type", "veth", "peer", "name", tp.RcIf, "netns", tp.Router)
	Sh(t, "ip", "link", "add", tp.BIf, "netns", tp.Back, "type", "veth", "peer", "name", tp.RbIf, "netns", tp.Router)
	tp.addr(t, tp.Client, tp.CIf, Client4+"/24", Client6+"/64")
	tp.addr(t, tp.Router, tp.RcIf, Router4+"/24", Router6+"/64", Blocked4+"/24")
	tp.addr(t, tp.Router, tp.RbIf, RouterB4+"/24", RouterB6+"/64")
	tp.addr(t, tp.Back, tp.BIf, Back4+"/24", Back6+"/64")
	Sh(t, "ip", "-n", tp.Client, "route", "add", "default", "via", Router4)
	Sh(t, "ip", "-n", tp.Client, "-6", "route", "add", "default", "via", Router6)
	Sh(t, "ip", "-n", tp.Back, "route", "add", "default", "via", RouterB4)
	Sh(t, "ip", "-n", tp.Back, "-6", "route", "add", "default", "via", RouterB6)
	Sh(t, "ip", "netns", "exec", tp.Router, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	for _, dst := range []string{Router4, Router6, Back4, Back6} {
		Sh(t, "ip", "netns", "exec", tp.Client, "ping", "-c", "1", "-w", "10", dst)
	}
	return tp
}

func (tp *Topo) addr(t testing.TB, ns, dev string, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		Sh(t, "ip", "-n", ns, "addr", "add", a, "dev", dev, "nodad")
	}
	Sh(t, "ip", "-n", ns, "link", "set", dev, "up")
}

// In runs a command in namespace ns.
func (tp *Topo) In(t testing.TB, ns string, args ...string) string {
	t.Helper()
	return Sh(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// Inode is the inode of namespace ns, as droptrace reports it.
func Inode(t testing.TB, ns string) uint32 {
	t.Helper()
	fi, err := os.Stat("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(fi.Sys().(*syscall.Stat_t).Ino)
}

// RunInNetns runs f on a thread of its own moved into namespace ns.
func RunInNetns(t testing.TB, ns string, f func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer fd.Close()
		if err := unix.Setns(int(fd.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in netns %s: %v", ns, err)
	}
}

// Probe is one packet sent to be dropped, and the attribution expected.
type Probe struct {
	From       string // namespace that sends
	Proto      string // "tcp" or "udp"
	Src, Dst   string
	Sport      uint16
	Dport      uint16
	DropNs     string // namespace whose rule drops it
	DropIf     string // device the drop sees it on ("" for output)
	Hook       string
	Chain      string
	Family     string
	Table      string
	Verdict    string
	RejectWith string
	Position   int // 0: the chain's policy
}

// Send sends one packet of the probe: a TCP SYN (the connection is given
// up before the first retransmit) or a UDP datagram.
func (p Probe) Send(t testing.TB) {
	t.Helper()
	src := netip.MustParseAddr(p.Src)
	dst := netip.AddrPortFrom(netip.MustParseAddr(p.Dst), p.Dport)
	RunInNetns(t, p.From, func() error {
		if p.Proto == "udp" {
			c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, p.Sport)), net.UDPAddrFromAddrPort(dst))
			if err != nil {
				return err
			}
			defer c.Close()
			// A drop in OUTPUT fails the send with EPERM: that is the drop.
			if _, err = c.Write([]byte("droptrace")); err != nil && !errors.Is(err, unix.EPERM) {
				return err
			}
			return nil
		}
		d := net.Dialer{Timeout: 300 * time.Millisecond, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, p.Sport))}
		if c, err := d.Dial("tcp", dst.String()); err == nil {
			c.Close()
		}
		return nil
	})
}

// Name names the probe in test messages.
func (p Probe) Name() string {
	return p.Family + " " + p.Proto + " " + p.Dst + "/" + itoa(int(p.Dport)) + " " + p.Hook
}

var countersRe = regexp.MustCompile(`counter packets \d+ bytes \d+|\[\d+:\d+\]`)

// RulesetText is what must not change: nft list ruleset,
// iptables-save/ip6tables-save and their -legacy twins (which list the
// x_tables tables ns has: one read into being would show), counters
// aside.
func RulesetText(t testing.TB, ns string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(Sh(t, "ip", "netns", "exec", ns, "nft", "-a", "list", "ruleset"))
	for _, save := range []string{"iptables-save", "ip6tables-save", "iptables-legacy-save", "ip6tables-legacy-save"} {
		for _, line := range strings.Split(Sh(t, "ip", "netns", "exec", ns, save), "\n") {
			if !strings.HasPrefix(line, "#") {
				b.WriteString(line + "\n")
			}
		}
	}
	return countersRe.ReplaceAllString(b.String(), "counter")
}

// KeepRuleset fails the test if ns's ruleset differs at the end.
func KeepRuleset(t testing.TB, ns string) {
	t.Helper()
	before := RulesetText(t, ns)
	t.Cleanup(func() {
		if after := RulesetText(t, ns); after != before {
			t.Errorf("ruleset of %s changed:\nbefore:\n%s\nafter:\n%s", ns, before, after)
		}
	})
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
