package tracer

import (
	"testing"

	"github.com/droptrace/droptrace/bpf"
	"github.com/droptrace/droptrace/filter"
)

// TestTCPTracepointProgramsLoad verifies the classic tracepoint programs
// of the TCP object, which a kernel that allows tp_btf never loads: the
// verifier must accept their reads of the socket (probe reads, not
// direct loads) on this kernel too.
func TestTCPTracepointProgramsLoad(t *testing.T) {
	requireRoot(t)
	spec, err := bpf.LoadTcp()
	if err != nil {
		t.Fatal(err)
	}
	if err := setConstants(spec, tcpConstants(filter.Spec{Port: 80}, 250)); err != nil {
		t.Fatal(err)
	}
	var progs []string
	for _, tp := range tcpTracepoints {
		progs = append(progs, tp.tpProg)
	}
	p, err := loadTCP(spec, progs, nil, nil)
	if err != nil {
		t.Fatalf("%+v", err)
	}
	p.close()
}
