package pcapfilter

import (
	"bytes"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// stubObject is embedded so the test binary also runs in the VM tests.
//
//go:embed testdata/stub_bpfel.o
var stubObject []byte

// loadStubObject loads testdata/stub_bpfel.o, a clang-compiled program
// with the stubs doc.go describes, with expr injected into both stubs.
func loadStubObject(t *testing.T, expr string) *ebpf.Collection {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(stubObject))
	if err != nil {
		t.Fatal(err)
	}
	for stub, l := range map[string]Link{"filter_pcap_l2": Ethernet, "filter_pcap_l3": RawIP} {
		insns, err := Compile(expr, l)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		if err := Inject(spec, stub, insns); err != nil {
			t.Fatal(err)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("loading %q: %+v", expr, err)
	}
	t.Cleanup(func() { coll.Close() })
	return coll
}

// TestStubObjectLoadsEveryExpression checks that clang's code around the
// stubs, with skb fields read directly (tp_btf) and with BPF_CORE_READ
// (raw_tp), passes the verifier with every corpus expression injected.
func TestStubObjectLoadsEveryExpression(t *testing.T) {
	requireBPF(t)
	for _, e := range corpus {
		if e.l2Only {
			continue // the object injects the expression as L3 too
		}
		loadStubObject(t, e.expr)
	}
}

// TestRealDrops attaches the stub object to skb:kfree_skb and makes UDP
// drops (no socket on the port) over IPv4 and IPv6 loopback in a new
// network namespace; the counters must show the filters saw exactly
// those packets, through both the L2 and the L3 variant.
func TestRealDrops(t *testing.T) {
	requireBPF(t)
	port := 40000 + rand.IntN(20000)
	both := loadStubObject(t, fmt.Sprintf("udp dst port %d", port))
	v4 := loadStubObject(t, fmt.Sprintf("ip and udp[2:2] == %d and len > 100", port))
	none := loadStubObject(t, fmt.Sprintf("udp dst port %d", port+1))
	for _, c := range []*ebpf.Collection{both, v4, none} {
		l, err := link.AttachTracing(link.TracingOptions{Program: c.Programs["on_drop"]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	const n = 5
	dropInNewNetns(t, port, n)
	waitCounter(t, both, "matched_l3", 2*n)
	waitCounter(t, both, "matched_l2", 2*n)
	waitCounter(t, v4, "matched_l3", n)
	waitCounter(t, v4, "matched_l2", n)
	for _, name := range []string{"matched_l2", "matched_l3"} {
		if got := counter(t, none, name); got != 0 {
			t.Errorf("filter for another port: %s = %d, want 0", name, got)
		}
	}
}

// dropInNewNetns sends n UDP datagrams of 120 bytes to port on 127.0.0.1
// and n to ::1 from a fresh network namespace, where nothing listens.
func dropInNewNetns(t *testing.T, port, n int) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	defer netns.Set(orig)
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{"127.0.0.1", "::1"} {
		sendUDP(t, dst, port, n)
	}
}

func sendUDP(t *testing.T, dst string, port, n int) {
	t.Helper()
	c, err := net.ListenPacket("udp", net.JoinHostPort(dst, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := &net.UDPAddr{IP: net.ParseIP(dst), Port: port}
	for range n {
		if _, err := c.WriteTo(make([]byte, 120), addr); err != nil {
			t.Fatal(err)
		}
	}
}

func counter(t *testing.T, c *ebpf.Collection, name string) uint64 {
	t.Helper()
	var v uint64
	if err := c.Variables[name].Get(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// waitCounter waits until the counter reaches want and fails if it does
// not or goes past it.
func waitCounter(t *testing.T, c *ebpf.Collection, name string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for counter(t, c, name) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := counter(t, c, name); got != want {
		t.Errorf("%s = %d, want %d", name, got, want)
	}
}
