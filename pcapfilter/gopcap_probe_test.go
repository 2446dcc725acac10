package pcapfilter

import (
	"fmt"
	"slices"
	"testing"
	"time"

	gopcap "github.com/packetcap/go-pcap/filter"
	"golang.org/x/net/bpf"
)

// TestProbeGoPcap records how github.com/packetcap/go-pcap's filter
// package, which the issue suggested building on, fares on the corpus
// against tcpdump. It does not fail: it is the evidence for compiling
// expressions here instead (see doc.go). go-pcap has no raw IP mode, so
// only the Ethernet capture is used. Its compiler resolves unknown words
// with DNS; a compile that does not return within a second is counted as
// hung.
func TestProbeGoPcap(t *testing.T) {
	requireTcpdump(t)
	c := writeCapture(t, Ethernet)
	var same, wrong, refused, hung int
	for _, e := range corpus {
		want, err := tcpdumpSelect(c, e.expr)
		if err != nil {
			t.Fatalf("tcpdump refused corpus expression %q: %v", e.expr, err)
		}
		insns, err := goPcapCompile(e.expr)
		switch {
		case err == errHung:
			hung++
			t.Logf("%-60q hung", e.expr)
			continue
		case err != nil:
			refused++
			t.Logf("%-60q refused: %v", e.expr, err)
			continue
		}
		got, err := goPcapSelect(c, insns)
		if err == nil && slices.Equal(got, want) {
			same++
			continue
		}
		wrong++
		t.Logf("%-60q WRONG: selects %v, tcpdump %v (%v)", e.expr, got, want, err)
	}
	t.Logf("go-pcap on %d expressions: %d as tcpdump, %d silently different, %d refused, %d hung", len(corpus), same, wrong, refused, hung)
}

var errHung = fmt.Errorf("compile did not return within a second")

func goPcapCompile(expr string) (insns []bpf.Instruction, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		e := gopcap.NewExpression(expr)
		f := e.Compile()
		if f == nil {
			err = fmt.Errorf("no filter")
			return
		}
		insns, err = f.Compile()
	}()
	select {
	case <-done:
		return insns, err
	case <-time.After(time.Second):
		return nil, errHung
	}
}

func goPcapSelect(c capture, insns []bpf.Instruction) ([]int, error) {
	vm, err := bpf.NewVM(insns)
	if err != nil {
		return nil, err
	}
	var sel []int
	for i, data := range c.data {
		n, err := vm.Run(data)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			sel = append(sel, c.indices[i])
		}
	}
	return sel, nil
}
