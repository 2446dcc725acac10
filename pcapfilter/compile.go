package pcapfilter

import "golang.org/x/net/bpf"

// CompileBPF compiles a pcap-filter expression into classic BPF for data
// that starts at link. The program returns 262144 for a packet that
// matches and 0 for one that does not, like tcpdump's. Every error it
// returns for a bad or unsupported expression is an *Error.
func CompileBPF(expr string, link Link) ([]bpf.Instruction, error) {
	n, perr := parse(expr, link)
	if perr != nil {
		return nil, perr
	}
	g := &generator{link: link}
	if err := g.gen(n, "accept", "reject"); err != nil {
		return nil, errorAt(expr, 0, "%v", err)
	}
	g.mark("accept")
	g.emit(bpf.RetConstant{Val: acceptValue})
	g.mark("reject")
	g.emit(bpf.RetConstant{Val: 0})
	insns, err := g.assemble()
	if err != nil {
		return nil, errorAt(expr, 0, "%v", err)
	}
	return insns, nil
}
