package pcapfilter

import (
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// randomAtoms are primitives that the random expressions combine.
var randomAtoms = []string{
	"tcp", "udp", "icmp", "ip6", "ip", "icmp6", "port 80", "src port 12345", "port 53",
	"host 10.0.0.1", "dst host 10.0.0.2", "net 2001:db8::/32", "src net 10.0.0.0/8",
	"tcp[13] & 2 != 0", "len > 100", "portrange 8000-9000", "ip6 proto 17", "icmp[0] == 8",
	"udp dst port 53", "host 2001:db8::2", "less 80", "ip[8] == 64",
}

func randomExpr(r *rand.Rand, depth int) string {
	if depth == 0 || r.IntN(4) == 0 {
		return randomAtoms[r.IntN(len(randomAtoms))]
	}
	switch r.IntN(5) {
	case 0:
		return "not " + randomExpr(r, depth-1)
	case 1:
		return "(" + randomExpr(r, depth-1) + ")"
	case 2:
		return randomExpr(r, depth-1) + " or " + randomExpr(r, depth-1)
	default:
		return randomExpr(r, depth-1) + " and " + randomExpr(r, depth-1)
	}
}

// TestDifferentialRandom compares random and/or/not/parenthesis
// combinations with tcpdump, where precedence and jump layout mistakes
// would show. The seed is fixed so a failure reproduces.
func TestDifferentialRandom(t *testing.T) {
	requireTcpdump(t)
	r := rand.New(rand.NewPCG(14, 2026))
	caps := []capture{writeCapture(t, Ethernet), writeCapture(t, RawIP)}
	const n = 150
	for range n {
		expr := randomExpr(r, 4)
		for _, c := range caps {
			want, err := tcpdumpSelect(c, expr)
			if err != nil {
				t.Fatalf("tcpdump %q: %v", expr, err)
			}
			insns, err := CompileBPF(expr, c.link)
			if err != nil {
				t.Fatalf("%q: %v", expr, err)
			}
			if got := vmSelect(t, c, insns); !slices.Equal(got, want) {
				t.Errorf("%s %q: selected %v, tcpdump %v", c.link, expr, got, want)
			}
			if os.Geteuid() != 0 {
				continue
			}
			k, err := loadKernelFilter(t, expr, c.link)
			if err != nil {
				t.Fatalf("%s %q: %v", c.link, expr, err)
			}
			if got := k.selectAll(t, c); !slices.Equal(got, want) {
				t.Errorf("kernel %s %q: selected %v, tcpdump %v", c.link, expr, got, want)
			}
		}
	}
	t.Logf("%d random expressions on both link types agree with tcpdump (in the kernel too: %v)", n, os.Geteuid() == 0)
}
