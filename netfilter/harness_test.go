package netfilter

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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/nsfs"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("netfilter tests need root, and CI=true forbids skipping them")
	}
	t.Skip("SKIPPED: netfilter tests need root")
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// topo is three namespaces: client —— router —— back. The router
// forwards between the other two and holds the rules under test.
type topo struct {
	id                   string
	client, router, back string
	cIf, rcIf, rbIf, bIf string // client's, router's towards client, router's towards back, back's
}

const (
	client4, router4, routerB4, back4 = "10.77.1.1", "10.77.1.2", "10.77.2.1", "10.77.2.2"
	client6, router6, routerB6, back6 = "fd77:1::1", "fd77:1::2", "fd77:2::1", "fd77:2::2"
	blocked4                          = "10.77.1.3" // a second router address, in the native test's @blocked set
)

func newTopo(t *testing.T) *topo {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	tp := &topo{id: id, client: "nf-c-" + id, router: "nf-r-" + id, back: "nf-b-" + id,
		cIf: "nf" + id + "c", rcIf: "nf" + id + "rc", rbIf: "nf" + id + "rb", bIf: "nf" + id + "b"}
	t.Cleanup(func() {
		for _, ns := range []string{tp.client, tp.router, tp.back} {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	for _, ns := range []string{tp.client, tp.router, tp.back} {
		sh(t, "ip", "netns", "add", ns)
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh(t, "ip", "link", "add", tp.cIf, "netns", tp.client, "type", "veth", "peer", "name", tp.rcIf, "netns", tp.router)
	sh(t, "ip", "link", "add", tp.bIf, "netns", tp.back, "type", "veth", "peer", "name", tp.rbIf, "netns", tp.router)
	tp.addr(t, tp.client, tp.cIf, client4+"/24", client6+"/64")
	tp.addr(t, tp.router, tp.rcIf, router4+"/24", router6+"/64", blocked4+"/24")
	tp.addr(t, tp.router, tp.rbIf, routerB4+"/24", routerB6+"/64")
	tp.addr(t, tp.back, tp.bIf, back4+"/24", back6+"/64")
	sh(t, "ip", "-n", tp.client, "route", "add", "default", "via", router4)
	sh(t, "ip", "-n", tp.client, "-6", "route", "add", "default", "via", router6)
	sh(t, "ip", "-n", tp.back, "route", "add", "default", "via", routerB4)
	sh(t, "ip", "-n", tp.back, "-6", "route", "add", "default", "via", routerB6)
	sh(t, "ip", "netns", "exec", tp.router, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	for _, dst := range []string{router4, router6, back4, back6} {
		sh(t, "ip", "netns", "exec", tp.client, "ping", "-c", "1", "-w", "10", dst)
	}
	return tp
}

func (tp *topo) addr(t *testing.T, ns, dev string, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		sh(t, "ip", "-n", ns, "addr", "add", a, "dev", dev, "nodad")
	}
	sh(t, "ip", "-n", ns, "link", "set", dev, "up")
}

func (tp *topo) in(t *testing.T, ns string, args ...string) string {
	t.Helper()
	return sh(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

func inode(t *testing.T, ns string) uint32 {
	t.Helper()
	fi, err := os.Stat("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(fi.Sys().(*syscall.Stat_t).Ino)
}

// runInNetns runs f on a thread of its own moved into namespace ns.
func runInNetns(t *testing.T, ns string, f func() error) {
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

// probe is one packet sent to be dropped.
type probe struct {
	from       string // namespace that sends
	proto      string // "tcp" or "udp"
	src, dst   string
	sport      uint16
	dport      uint16
	dropNs     string // namespace whose rule drops it
	dropIf     string // device the drop sees it on ("" for output)
	hook       string
	chain      string
	family     string
	verdict    string
	rejectWith string
	position   int // 0: the chain's policy
}

// send sends one packet of the probe: a TCP SYN (the connection is given
// up before the first retransmit) or a UDP datagram.
func (p probe) send(t *testing.T) {
	t.Helper()
	src := netip.MustParseAddr(p.src)
	dst := netip.AddrPortFrom(netip.MustParseAddr(p.dst), p.dport)
	runInNetns(t, p.from, func() error {
		if p.proto == "udp" {
			c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, p.sport)), net.UDPAddrFromAddrPort(dst))
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
		d := net.Dialer{Timeout: 300 * time.Millisecond, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, p.sport))}
		if c, err := d.Dial("tcp", dst.String()); err == nil {
			c.Close()
		}
		return nil
	})
}

// event is the drop as the tracer decodes it.
func (p probe) event(t *testing.T) *event.Event {
	return &event.Event{
		Time: time.Now(), Kind: event.KindDrop, Reason: "NETFILTER_DROP", Netns: inode(t, p.dropNs),
		Ifname: p.dropIf, Proto: p.proto, Src: netip.MustParseAddr(p.src), Dst: netip.MustParseAddr(p.dst),
		Sport: p.sport, Dport: p.dport,
	}
}

var countersRe = regexp.MustCompile(`counter packets \d+ bytes \d+|\[\d+:\d+\]`)

// rulesetText is what must not change: nft list ruleset and
// iptables-save/ip6tables-save of ns, counters aside.
func rulesetText(t *testing.T, ns string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(sh(t, "ip", "netns", "exec", ns, "nft", "-a", "list", "ruleset"))
	for _, save := range []string{"iptables-save", "ip6tables-save"} {
		for _, line := range strings.Split(sh(t, "ip", "netns", "exec", ns, save), "\n") {
			if !strings.HasPrefix(line, "#") {
				b.WriteString(line + "\n")
			}
		}
	}
	return countersRe.ReplaceAllString(b.String(), "counter")
}

// keepRuleset fails the test if ns's ruleset differs at the end.
func keepRuleset(t *testing.T, ns string) {
	t.Helper()
	before := rulesetText(t, ns)
	t.Cleanup(func() {
		if after := rulesetText(t, ns); after != before {
			t.Errorf("ruleset of %s changed:\nbefore:\n%s\nafter:\n%s", ns, before, after)
		}
	})
}

// testAnnotator annotates without a baseline of every namespace of the
// machine, and reads the ruleset at every drop.
func testAnnotator(t *testing.T) *Annotator {
	cfg := DefaultConfig()
	cfg.Baseline, cfg.Interval, cfg.ReadCost, cfg.ReadsPerSecond = 0, 0, 0, 1000
	a := New(nsfs.NewIndex(), cfg)
	t.Cleanup(func() { a.Close() })
	return a
}

type eventNetfilter = event.Netfilter

func itoa(i int) string { return strconv.Itoa(i) }
