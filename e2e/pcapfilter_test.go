package e2e

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/e2e/pcapcorpus"
)

// pcapBatch is how many droptrace instances watch one replay of the
// traffic: each loads and attaches in about a second, so batches keep
// the test under a few minutes.
const pcapBatch = 12

// TestPcapFilterDifferential checks droptrace's pcap-filter expressions
// against tcpdump's: for every expression of the corpus, the packets
// droptrace reports dropped are the packets tcpdump -r selects from a
// capture of the same traffic. Each packet is dropped twice: received
// from the veth at INPUT, where the skb has its Ethernet header (the L2
// filter; tcpdump reads the Ethernet capture), and sent by a raw socket
// inside the server at OUTPUT, where it has none (the L3 filter; tcpdump
// reads the same capture as raw IP).
func TestPcapFilterDifferential(t *testing.T) {
	requireRoot(t)
	requireTool(t, "tcpdump")
	tp := newTopology(t)
	d := newPcapDiff(t, tp)
	capture := d.capture(t)
	raw := rawCapture(t, capture)
	mismatches, selected := 0, 0
	for start := 0; start < len(pcapcorpus.Exprs); start += pcapBatch {
		batch := pcapcorpus.Exprs[start:min(start+pcapBatch, len(pcapcorpus.Exprs))]
		got := d.runDroptrace(t, batch)
		for i, expr := range batch {
			want := d.keys(t, tcpdumpSelect(t, capture, expr))
			for k, n := range d.keys(t, tcpdumpSelect(t, raw, expr)) {
				want[k] += n
			}
			for _, n := range want {
				selected += n
			}
			if missing, extra := diffKeys(want, got[i]); len(missing)+len(extra) > 0 {
				mismatches++
				t.Errorf("%q: tcpdump selects %d, droptrace reported %d; missing %v; extra %v",
					expr, len(want), len(got[i]), d.describe(missing), d.describe(extra))
			}
		}
	}
	t.Logf("%d expressions on %d packets (%d IPv4, %d IPv6), each dropped with and without its Ethernet header: %d selections, %d mismatches",
		len(pcapcorpus.Exprs), len(d.frames), d.v4, len(d.frames)-d.v4, selected, mismatches)
}

// pcapDiff is the traffic of the differential test and what identifies
// each packet: its bytes from the IP header on.
type pcapDiff struct {
	tp       *topology
	specs    []frameSpec
	frames   [][]byte
	index    map[string]int // key to frame index
	v4       int
	replays  int
	clientIx int
}

func newPcapDiff(t *testing.T, tp *topology) *pcapDiff {
	t.Helper()
	for _, args := range [][]string{
		{"addr", "add", "10.199.1.3/32", "dev", tp.serverIf},
		{"addr", "add", "fd99:1::3/128", "dev", tp.serverIf, "nodad"},
	} {
		sh(t, "ip", append([]string{"-n", tp.server}, args...)...)
	}
	for _, ipt := range []string{"iptables", "ip6tables"} {
		tp.in(t, tp.server, ipt, "-A", "INPUT", "-j", "DROP")
		tp.in(t, tp.server, ipt, "-A", "OUTPUT", "-j", "DROP")
	}
	d := &pcapDiff{tp: tp, specs: pcapTrafficSpecs(), index: map[string]int{}}
	srcMAC, srcIx := linkOf(t, tp.client, tp.clientIf)
	dstMAC, _ := linkOf(t, tp.server, tp.serverIf)
	frames, err := pcapTraffic(d.specs, srcMAC, dstMAC)
	if err != nil {
		t.Fatal(err)
	}
	d.frames, d.clientIx = frames, srcIx
	for i, f := range frames {
		d.index[hex.EncodeToString(f[14:])] = i
		if !d.specs[i].v6 {
			d.v4++
		}
	}
	return d
}

func linkOf(t *testing.T, ns, name string) (net.HardwareAddr, int) {
	t.Helper()
	var ifc *net.Interface
	err := runInNetns(ns, func() error {
		var err error
		ifc, err = net.InterfaceByName(name)
		return err
	})
	if err != nil {
		t.Fatalf("%s in %s: %v", name, ns, err)
	}
	return ifc.HardwareAddr, ifc.Index
}

// replay sends every frame once from the client's end of the veth pair
// and waits until the DROP rules have dropped them all.
func (d *pcapDiff) replay(t *testing.T) {
	t.Helper()
	err := runInNetns(d.tp.client, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: d.clientIx, Halen: 6}
		for _, f := range d.frames {
			copy(to.Addr[:], f[:6])
			if err := unix.Sendto(fd, f, 0, to); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("sending the traffic: %v", err)
	}
	if err := runInNetns(d.tp.server, d.sendRaw); err != nil {
		t.Fatalf("sending the traffic from a raw socket: %v", err)
	}
	d.replays++
	v4, v6 := uint64(d.replays*d.v4), uint64(d.replays*(len(d.frames)-d.v4))
	d.tp.waitRule(t, "iptables", v4, "DROP")
	d.tp.waitRule(t, "ip6tables", v6, "DROP")
	waitFor(t, "the OUTPUT rules to drop the raw packets", settle, func() error {
		return errors.Join(atLeast(outputDrops(t, d.tp, "iptables"), v4), atLeast(outputDrops(t, d.tp, "ip6tables"), v6))
	})
}

// sendRaw sends every packet, from its IP header, through raw sockets
// that take the header as given (IPPROTO_RAW), to the server itself.
func (d *pcapDiff) sendRaw() error {
	fd4, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return err
	}
	defer unix.Close(fd4)
	fd6, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return err
	}
	defer unix.Close(fd6)
	for i, f := range d.frames {
		dst := net.ParseIP(d.specs[i].dst)
		var err error
		if d.specs[i].v6 {
			to := &unix.SockaddrInet6{}
			copy(to.Addr[:], dst.To16())
			err = unix.Sendto(fd6, f[14:], 0, to)
		} else {
			to := &unix.SockaddrInet4{}
			copy(to.Addr[:], dst.To4())
			err = unix.Sendto(fd4, f[14:], 0, to)
		}
		if err != nil && !errors.Is(err, unix.EPERM) { // EPERM: the OUTPUT rule dropped it
			return fmt.Errorf("packet %d: %w", i, err)
		}
	}
	return nil
}

// outputDrops is what the server's OUTPUT DROP rule has dropped.
func outputDrops(t *testing.T, tp *topology, ipt string) uint64 {
	t.Helper()
	for _, line := range strings.Split(tp.in(t, tp.server, ipt, "-L", "OUTPUT", "-v", "-x", "-n"), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[2] == "DROP" {
			n, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				t.Fatalf("%s -L OUTPUT: %q", ipt, line)
			}
			return n
		}
	}
	t.Fatalf("%s: no DROP rule in OUTPUT", ipt)
	return 0
}

// rawCapture writes the packets of an Ethernet capture from their IP
// header, as a raw IP capture (LINKTYPE_RAW).
func rawCapture(t *testing.T, capture string) string {
	t.Helper()
	data, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "traffic-raw.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		t.Fatal(err)
	}
	for _, p := range readPackets(t, data) {
		ci := gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(p), Length: len(p)}
		if err := w.WritePacket(ci, p); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// capture records one replay with tcpdump on the server's end, inbound
// only, and checks that the capture holds every frame.
func (d *pcapDiff) capture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "traffic.pcap")
	cmd := exec.Command("ip", "netns", "exec", d.tp.server, "tcpdump", "-i", d.tp.serverIf, "-Q", "in", "-U", "-n", "-w", path)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, "tcpdump to listen", attachWait, func() error {
		if !strings.Contains(stderr.String(), "listening on") {
			return fmt.Errorf("stderr: %q", stderr.String())
		}
		return nil
	})
	d.replay(t)
	waitFor(t, "tcpdump to write every frame", settle, func() error {
		return atLeast(uint64(len(d.keys(t, path))), uint64(len(d.frames)))
	})
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	return path
}

// runDroptrace runs one droptrace per expression, all on one replay, and
// returns the packets each wrote to its pcapng file.
func (d *pcapDiff) runDroptrace(t *testing.T, exprs []string) []map[string]int {
	t.Helper()
	dir := t.TempDir()
	var trs []*tracer
	for i, expr := range exprs {
		file := filepath.Join(dir, fmt.Sprintf("%d.pcapng", i))
		trs = append(trs, startTracer(t, "--filter-netns", d.tp.server, "-w", file, "--", expr))
	}
	d.replay(t)
	got := make([]map[string]int, len(exprs))
	for i, tr := range trs {
		tr.stop(t)
		got[i] = d.keys(t, filepath.Join(dir, fmt.Sprintf("%d.pcapng", i)))
	}
	return got
}

// tcpdumpSelect writes the packets of capture that expr selects to a new
// file.
func tcpdumpSelect(t *testing.T, capture, expr string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "selected.pcap")
	sh(t, "tcpdump", "-n", "-r", capture, "-w", out, expr)
	return out
}

// keys reads a pcap or pcapng file and counts its packets that are frames
// of the traffic, by their bytes from the IP header on.
func (d *pcapDiff) keys(t *testing.T, path string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]int{}
	for _, p := range readPackets(t, data) {
		k := hex.EncodeToString(p)
		if _, ok := d.index[k]; ok {
			keys[k]++
		}
	}
	return keys
}

// readPackets returns the packets of a pcap or pcapng file from their IP
// header on.
func readPackets(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	if bytes.HasPrefix(data, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("reading pcapng: %v", err)
		}
		for {
			p, ci, err := r.ReadPacketData()
			if err != nil {
				return out
			}
			ifc, err := r.Interface(ci.InterfaceIndex)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fromIP(p, ifc.LinkType))
		}
	}
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading pcap: %v", err)
	}
	for {
		p, _, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		out = append(out, fromIP(p, r.LinkType()))
	}
}

func fromIP(p []byte, link layers.LinkType) []byte {
	if link == layers.LinkTypeEthernet && len(p) >= 14 {
		return p[14:]
	}
	return p
}

// diffKeys returns the keys of want missing from got and those of got not
// in want.
func diffKeys(want, got map[string]int) (missing, extra []string) {
	for k, n := range want {
		if got[k] != n {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}

// describe names packets by their frame's spec, for the failure message.
func (d *pcapDiff) describe(keys []string) []string {
	var out []string
	for _, k := range keys {
		s := d.specs[d.index[k]]
		out = append(out, fmt.Sprintf("#%d %s %s>%s %d>%d flags %#x type %d payload %d",
			d.index[k], s.proto, s.src, s.dst, s.sport, s.dport, s.flags, s.icmpType, s.payload))
	}
	return out
}

// requireTool skips, loudly, when a tool the test uses as its oracle is
// missing; with CI=true it fails.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is needed as the oracle, and CI=true forbids skipping", name)
	}
	t.Skipf("SKIPPED: %s is needed as the oracle (make deps-test installs it)", name)
}

// TestBadExpressions checks that each unsupported construct, and a few
// malformed expressions, end with exit 2 and two lines on stderr: the
// expression, then a caret under the offending word.
func TestBadExpressions(t *testing.T) {
	const prefix = "droptrace: "
	for _, tt := range []struct{ expr, at string }{
		{"ether host 01:02:03:04:05:06", "ether"}, {"broadcast", "broadcast"},
		{"tcp and multicast", "multicast"}, {"gateway 10.0.0.1", "gateway"},
		{"protochain 6", "protochain"}, {"mpls", "mpls"}, {"pppoes", "pppoes"},
		{"geneve", "geneve"}, {"udp and vxlan", "vxlan"}, {"inbound", "inbound"},
		{"ifname eth0", "ifname"}, {"wlan host 1:2:3:4:5:6", "wlan"}, {"llc", "llc"},
		{"net 10", "10"}, {"host example.com", "example.com"}, {"port 99999", "99999"},
		{"tcp and prt 80", "prt"}, {"tcp[13 & 2 != 0", "!="},
	} {
		t.Run(tt.expr, func(t *testing.T) {
			code, _, stderr := exitCode(t, strings.Fields(tt.expr)...)
			if code != 2 {
				t.Errorf("exit status %d, want 2; stderr %q", code, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != 2 || lines[0] != prefix+tt.expr {
				t.Fatalf("stderr %q: want the expression, then a caret line", stderr)
			}
			if got, want := strings.Index(lines[1], "^"), len(prefix)+strings.Index(tt.expr, tt.at); got != want {
				t.Errorf("caret at column %d, want %d (under %q):\n%s", got, want, tt.at, stderr)
			}
		})
	}
}
