package pcapfilter

import (
	"bytes"
	"fmt"
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
	"golang.org/x/net/bpf"
)

// captureBase is the timestamp of packet 0; packet i is stamped base+i
// seconds so tcpdump -tt names it.
const captureBase = 1_000_000

// capture is a pcap file of the test packets for one link type, and the
// index in testPackets of each packet in it.
type capture struct {
	path    string
	link    Link
	data    [][]byte
	indices []int
}

func writeCapture(t *testing.T, link Link) capture {
	t.Helper()
	c := capture{path: filepath.Join(t.TempDir(), link.String()+".pcap"), link: link}
	f, err := os.Create(c.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	lt := map[Link]layers.LinkType{Ethernet: layers.LinkTypeEthernet, RawIP: layers.LinkTypeRaw}[link]
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	for i, p := range testPackets() {
		data := p.frame
		if link == RawIP {
			if p.l2Only {
				continue
			}
			data = p.raw()
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(captureBase+int64(i), 0), CaptureLength: len(data), Length: len(data)}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
		c.data = append(c.data, data)
		c.indices = append(c.indices, i)
	}
	return c
}

// tcpdumpSelect returns the indices of the packets tcpdump selects.
func tcpdumpSelect(c capture, expr string) ([]int, error) {
	cmd := exec.Command("tcpdump", "-r", c.path, "-n", "-tt", expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && strings.Contains(stderr.String(), "expression rejects all packets") {
		// libpcap's optimizer refuses a filter that can never match; to
		// us that is a filter selecting nothing.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var sel []int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		sec, _, _ := strings.Cut(strings.Fields(line)[0], ".")
		n, err := strconv.Atoi(sec)
		if err != nil {
			return nil, fmt.Errorf("tcpdump line %q: %v", line, err)
		}
		sel = append(sel, n-captureBase)
	}
	return sel, nil
}

// vmSelect runs the classic program in x/net/bpf's interpreter.
func vmSelect(t *testing.T, c capture, insns []bpf.Instruction) []int {
	t.Helper()
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("classic program refused by the interpreter: %v", err)
	}
	var sel []int
	for i, data := range c.data {
		n, err := vm.Run(data)
		if err != nil {
			t.Fatalf("running classic program: %v", err)
		}
		if n > 0 {
			sel = append(sel, c.indices[i])
		}
	}
	return sel
}

func requireTcpdump(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tcpdump is needed for the differential test")
		}
		t.Skip("SKIPPED: tcpdump is not installed (apt-get install -y tcpdump)")
	}
}

// TestDifferentialClassic compares, for every corpus expression and both
// link types, the packets the classic program selects with those tcpdump
// selects from a capture of the same packets.
func TestDifferentialClassic(t *testing.T) {
	requireTcpdump(t)
	runDifferential(t, func(t *testing.T, c capture, expr string) ([]int, error) {
		insns, err := CompileBPF(expr, c.link)
		if err != nil {
			return nil, err
		}
		return vmSelect(t, c, insns), nil
	})
}

type selector func(t *testing.T, c capture, expr string) ([]int, error)

func runDifferential(t *testing.T, sel selector) {
	caps := []capture{writeCapture(t, Ethernet), writeCapture(t, RawIP)}
	pairs, mismatches := 0, 0
	for _, c := range caps {
		for _, e := range corpus {
			want, tdErr := tcpdumpSelect(c, e.expr)
			got, err := sel(t, c, e.expr)
			if c.link == RawIP && e.l2Only {
				// tcpdump refuses vlan and arp on raw IP but reads ether[]
				// from the IP header; we refuse all three.
				if err == nil {
					t.Errorf("%s %q: want an error, tcpdump err=%v", c.link, e.expr, tdErr)
				}
				continue
			}
			if tdErr != nil || err != nil {
				t.Errorf("%s %q: tcpdump err=%v, ours err=%v", c.link, e.expr, tdErr, err)
				continue
			}
			pairs += len(c.data)
			if !slices.Equal(got, want) {
				mismatches++
				t.Errorf("%s %q: selected %v, tcpdump %v", c.link, e.expr, got, want)
			}
		}
	}
	t.Logf("%d expressions, %d expression×packet pairs over both link types, %d expressions mismatched", len(corpus), pairs, mismatches)
}
