package output

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/droptrace/droptrace/event"
)

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("serializing packet: %v", err)
	}
	return buf.Bytes()
}

func ethTCPFrame(t *testing.T) []byte {
	eth := &layers.Ethernet{
		SrcMAC:       net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
		DstMAC:       net.HardwareAddr{0x02, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4,
	}
	ip := &layers.IPv4{
		Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(192, 168, 100, 200),
	}
	tcp := &layers.TCP{SrcPort: 43210, DstPort: 443, SYN: true, Seq: 1000, Window: 64240}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, eth, ip, tcp, gopacket.Payload("hello, droptrace"))
}

func rawUDP6Packet(t *testing.T) []byte {
	ip := &layers.IPv6{
		Version: 6, NextHeader: layers.IPProtocolUDP, HopLimit: 64,
		SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8:ffff::53"),
	}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 7777} // not DNS: tcpdump would decode it
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip, udp, gopacket.Payload("query"))
}

// pcapCase is one event and what the file must hold for it.
type pcapCase struct {
	ev          *event.Event
	wantData    []byte // nil when the event must be skipped
	wantLen     int
	wantIface   string
	wantComment string
}

func pcapCases(t *testing.T) []pcapCase {
	at := time.Date(2025, time.March, 4, 15, 4, 5, 123456789, time.UTC)
	tcp := ethTCPFrame(t)
	udp := rawUDP6Packet(t)
	ethHeader := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd}
	return []pcapCase{{
		ev: &event.Event{
			Time: at, Kind: "drop", Reason: "NETFILTER_DROP", Location: "nft_do_chain+0x4f0 [nf_tables]",
			Netns: 4026531840, Ifname: "veth0", Skb: 0xffff888100a2b300,
			Packet: tcp, LinkType: event.LinkEthernet, OrigLen: uint32(len(tcp)),
		},
		wantData: tcp, wantLen: len(tcp), wantIface: "veth0",
		wantComment: "drop reason=NETFILTER_DROP location=nft_do_chain+0x4f0 [nf_tables] netns=4026531840 if=veth0 skb=0xffff888100a2b300",
	}, {
		ev: &event.Event{
			Time: at.Add(time.Microsecond), Kind: "drop", Reason: "UDP_CSUM", Location: "__udp6_lib_rcv+0x7a",
			Netns: 4026532001, Ifname: "tun0", EtherType: 0x86dd, Skb: 0xffff888100a2c400,
			Packet: udp, LinkType: event.LinkRawIP, OrigLen: uint32(len(udp)),
		},
		wantData: append(ethHeader, udp...), wantLen: ethHeaderLen + len(udp), wantIface: "tun0",
		wantComment: "drop reason=UDP_CSUM location=__udp6_lib_rcv+0x7a netns=4026532001 if=tun0 skb=0xffff888100a2c400",
	}, {
		ev: &event.Event{ // no reason, netns or name: left out of the comment
			Time: at.Add(2 * time.Microsecond), Kind: "retransmit", Location: "tcp_retransmit_skb+0x15",
			Skb: 0xffff888100a30800, Packet: tcp[:40], LinkType: event.LinkEthernet, OrigLen: uint32(len(tcp)),
		},
		wantData: tcp[:40], wantLen: len(tcp), wantIface: "",
		wantComment: "retransmit location=tcp_retransmit_skb+0x15 skb=0xffff888100a30800",
	}, {
		ev: &event.Event{Time: at, Kind: "drop", Ifname: "veth0", LinkType: event.LinkNone},
	}, {
		ev: &event.Event{Time: at, Kind: "drop", Ifname: "veth0", LinkType: event.LinkEthernet},
	}, {
		ev: &event.Event{ // same interface as the first: no new IDB
			Time: at.Add(3 * time.Microsecond), Kind: "drop", Reason: "NO_SOCKET", Ifname: "veth0",
			Skb: 0x1, Packet: tcp, LinkType: event.LinkEthernet, OrigLen: uint32(len(tcp)),
		},
		wantData: tcp, wantLen: len(tcp), wantIface: "veth0",
		wantComment: "drop reason=NO_SOCKET if=veth0 skb=0x1",
	}}
}

// writePcapFile writes the events with OpenPcap and returns the file path
// and how many events were skipped.
func writePcapFile(t *testing.T, events []*event.Event) (string, uint64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "drops.pcapng")
	p, err := OpenPcap(path)
	if err != nil {
		t.Fatalf("OpenPcap: %v", err)
	}
	for _, ev := range events {
		if err := p.Write(ev); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return path, p.Skipped()
}

func writtenCases(t *testing.T) (string, []pcapCase) {
	cases := pcapCases(t)
	var events []*event.Event
	var written []pcapCase
	for _, c := range cases {
		events = append(events, c.ev)
		if c.wantData != nil {
			written = append(written, c)
		}
	}
	path, skipped := writePcapFile(t, events)
	if want := uint64(len(cases) - len(written)); skipped != want {
		t.Errorf("Skipped() = %d, want %d", skipped, want)
	}
	return path, written
}

func openNg(t *testing.T, path string) *pcapgo.NgReader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatalf("reading pcapng header: %v", err)
	}
	return r
}

func TestPcapReadBack(t *testing.T) {
	path, want := writtenCases(t)
	r := openNg(t, path)
	if got := r.SectionInfo().Application; got != "droptrace" {
		t.Errorf("application = %q, want droptrace", got)
	}
	for i, c := range want {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		checkPacket(t, r, i, c, data, ci, opts)
	}
	if _, _, err := r.ReadPacketData(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last packet: got %v, want EOF", err)
	}
	// The placeholder, veth0, tun0 and the nameless one; veth0 only once.
	if got, want := r.NInterfaces(), 4; got != want {
		t.Errorf("got %d interfaces, want %d", got, want)
	}
}

func checkPacket(t *testing.T, r *pcapgo.NgReader, i int, c pcapCase, data []byte, ci gopacket.CaptureInfo, opts pcapgo.NgPacketOptions) {
	t.Helper()
	if !bytes.Equal(data, c.wantData) {
		t.Errorf("packet %d: got bytes\n%x\nwant\n%x", i, data, c.wantData)
	}
	if ci.CaptureLength != len(c.wantData) || ci.Length != c.wantLen {
		t.Errorf("packet %d: got caplen %d len %d, want %d %d", i, ci.CaptureLength, ci.Length, len(c.wantData), c.wantLen)
	}
	if !ci.Timestamp.Equal(c.ev.Time) {
		t.Errorf("packet %d: got time %v, want %v", i, ci.Timestamp, c.ev.Time)
	}
	if want := []string{c.wantComment}; !slices.Equal(opts.Comments, want) {
		t.Errorf("packet %d: got comments %q, want %q", i, opts.Comments, want)
	}
	intf, err := r.Interface(ci.InterfaceIndex)
	if err != nil {
		t.Fatalf("packet %d: interface %d: %v", i, ci.InterfaceIndex, err)
	}
	if intf.Name != c.wantIface || intf.LinkType != layers.LinkTypeEthernet {
		t.Errorf("packet %d: got interface %q link type %v, want %q Ethernet", i, intf.Name, intf.LinkType, c.wantIface)
	}
}

// TestPcapFlushesEachPacket reads the file while the writer is still open,
// as after a kill: every packet written so far must be there.
func TestPcapFlushesEachPacket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "killed.pcapng")
	p, err := OpenPcap(path)
	if err != nil {
		t.Fatalf("OpenPcap: %v", err)
	}
	defer p.Close()
	c := pcapCases(t)[0]
	if err := p.Write(c.ev); err != nil {
		t.Fatalf("Write: %v", err)
	}
	data, _, err := openNg(t, path).ReadPacketData()
	if err != nil {
		t.Fatalf("reading the unclosed file: %v", err)
	}
	if !bytes.Equal(data, c.wantData) {
		t.Errorf("got %x, want %x", data, c.wantData)
	}
}

func TestPcapEmpty(t *testing.T) {
	path, skipped := writePcapFile(t, nil)
	if skipped != 0 {
		t.Errorf("Skipped() = %d, want 0", skipped)
	}
	if _, _, err := openNg(t, path).ReadPacketData(); !errors.Is(err, io.EOF) {
		t.Errorf("got %v, want EOF", err)
	}
	if requireTool(t, "tcpdump") {
		if got := runTool(t, "tcpdump", "-nn", "-r", path); got != "" {
			t.Errorf("tcpdump printed packets for an empty capture:\n%s", got)
		}
	}
}

func TestPcapMode(t *testing.T) {
	tests := []struct {
		name     string
		existing os.FileMode // 0: no file before
	}{
		{"new file", 0},
		{"existing world-readable file", 0o644},
		{"existing world-writable file", 0o666},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "drops.pcapng")
			if tt.existing != 0 {
				writeWithMode(t, path, tt.existing)
			}
			p, err := OpenPcap(path)
			if err != nil {
				t.Fatalf("OpenPcap: %v", err)
			}
			if err := p.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := info.Mode().Perm(), os.FileMode(0o600); got != want {
				t.Errorf("got mode %v, want %v", got, want)
			}
			if _, _, err := openNg(t, path).ReadPacketData(); !errors.Is(err, io.EOF) {
				t.Errorf("old content not truncated: got %v, want EOF", err)
			}
		})
	}
}

func writeWithMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("old secrets"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// TestPcapLeavesPipeMode: "-w /dev/null" must not chmod a device shared by
// the whole system; a FIFO stands in for it.
func TestPcapLeavesPipeMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	go drain(path)
	p, err := OpenPcap(path)
	if err != nil {
		t.Fatalf("OpenPcap: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Mode().Perm(), os.FileMode(0o644); got != want {
		t.Errorf("got mode %v, want %v", got, want)
	}
}

func drain(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	io.Copy(io.Discard, f)
}

func TestPcapWriteErrors(t *testing.T) {
	if _, err := NewPcap(failingWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("NewPcap: got %v, want an error wrapping %q", err, "disk full")
	}
	p, err := NewPcap(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	bad := &event.Event{Packet: []byte{0x45}, LinkType: event.LinkType(42)}
	if err := p.Write(bad); err == nil {
		t.Error("Write of an unknown link type: got nil error")
	}
}

func TestPcapTcpdump(t *testing.T) {
	if !requireTool(t, "tcpdump") {
		return
	}
	path, _ := writtenCases(t)
	out := runTool(t, "tcpdump", "-nn", "-r", path)
	for _, want := range []string{
		"IP 10.0.0.1.43210 > 192.168.100.200.443: Flags [S]",
		"IP6 2001:db8::1.40000 > 2001:db8:ffff::53.7777: UDP, length 5",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tcpdump output lacks %q:\n%s", want, out)
		}
	}
	if got, want := strings.Count(out, "\n"), 4; got != want {
		t.Errorf("tcpdump printed %d lines, want %d:\n%s", got, want, out)
	}
}

func TestPcapTshark(t *testing.T) {
	if !requireTool(t, "tshark") {
		return
	}
	path, cases := writtenCases(t)
	out := runTool(t, "tshark", "-r", path, "-T", "fields", "-e", "frame.comment")
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var want []string
	for _, c := range cases {
		want = append(want, c.wantComment)
	}
	if !slices.Equal(got, want) {
		t.Errorf("tshark comments:\ngot  %q\nwant %q", got, want)
	}
}

// requireTool says whether name can be run. A missing tool skips the test
// loudly on a workstation but fails it in CI, where it must be installed.
func requireTool(t *testing.T, name string) bool {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return true
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not in PATH, and CI must check files with it", name)
	}
	t.Skipf("SKIPPED: %s is not in PATH, so files were not checked with it; install it", name)
	return false
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
