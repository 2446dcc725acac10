package filter

import (
	"net/netip"

	"github.com/spf13/pflag"

	"github.com/droptrace/droptrace/pcapfilter"
)

// This file is where a filter is defined on the Go side: its flag, its
// raw value in Flags, its parsed value in Spec, and the step of Parse that
// turns one into the other. The BPF side is a field of struct filter_cfg
// and a clause in bpf/filter.h, set in tracer/filters.go.

// Flags are the raw --filter-* flag values as the user typed them ("" or
// nil means not given).
type Flags struct {
	SrcIP, DstIP, Port, Proto, Netns, Ifname string
	Reasons                                  []string
	Exclude                                  []string // --exclude-reason
	Expr                                     string   // the positional pcap-filter expression
}

// Register adds the --filter-* flags to fs, storing their values in f.
func (f *Flags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.SrcIP, "filter-src-ip", "", "only drops from this IPv4/IPv6 address or CIDR")
	fs.StringVar(&f.DstIP, "filter-dst-ip", "", "only drops to this IPv4/IPv6 address or CIDR")
	fs.StringVar(&f.Port, "filter-port", "", "only drops with this source or destination port")
	fs.StringVar(&f.Proto, "filter-proto", "", "only drops of this protocol: tcp, udp, icmp, icmp6")
	fs.StringVar(&f.Netns, "filter-netns", "", "only drops in this network namespace: inode, /proc/PID/ns/net, or an 'ip netns' name")
	fs.StringVar(&f.Ifname, "filter-ifname", "", "only drops on the interface of this name (in any namespace)")
	fs.StringSliceVar(&f.Reasons, "filter-reason", nil, "only drops with these reasons, e.g. NETFILTER_DROP,NO_SOCKET (see --list-reasons); a list, repeatable")
	fs.StringSliceVar(&f.Exclude, "exclude-reason", nil, "leave out drops with these reasons, in the kernel (a list, repeatable)")
}

// Lists are the filter flags that take a list, so that giving them twice
// adds to it; the others are one value each.
var Lists = []string{"filter-reason", "exclude-reason"}

// Spec is a validated set of filters; the zero value matches everything.
type Spec struct {
	Src, Dst netip.Prefix // invalid (zero) when not given
	Port     uint16       // 0 when not given
	Proto    Proto
	Netns    uint32 // namespace inode, 0 when not given
	Ifname   string // "" when not given
	Reasons  []uint32
	Exclude  []uint32 // reasons left out (--exclude-reason)
	Expr     string   // pcap-filter expression, "" when not given
}

// Parse validates f and returns the Spec it describes. reasons may be nil
// when f.Reasons is empty. Every error it returns is an *Error.
func Parse(f Flags, reasons ReasonLookup) (Spec, error) {
	var s Spec
	var err error
	if s.Src, err = parsePrefix("--filter-src-ip", f.SrcIP); err != nil {
		return Spec{}, err
	}
	if s.Dst, err = parsePrefix("--filter-dst-ip", f.DstIP); err != nil {
		return Spec{}, err
	}
	if s.Port, err = parsePort(f.Port); err != nil {
		return Spec{}, err
	}
	if s.Proto, err = parseProto(f.Proto); err != nil {
		return Spec{}, err
	}
	if s.Netns, err = parseNetns(f.Netns); err != nil {
		return Spec{}, err
	}
	if s.Ifname, err = parseIfname(f.Ifname); err != nil {
		return Spec{}, err
	}
	if s.Reasons, err = ParseReasons("--filter-reason", f.Reasons, reasons); err != nil {
		return Spec{}, err
	}
	if s.Exclude, err = ParseReasons("--exclude-reason", f.Exclude, reasons); err != nil {
		return Spec{}, err
	}
	if err := checkCombination(s); err != nil {
		return Spec{}, err
	}
	if err := checkExpr(f.Expr); err != nil {
		return Spec{}, err
	}
	s.Expr = f.Expr
	return s, nil
}

// checkExpr compiles the pcap-filter expression for Ethernet data, which
// accepts every construct the raw IP form does; a bad expression is a
// *pcapfilter.Error, which points at the offending token. The expression
// is compiled again, for both kinds of data, when tracer loads it.
func checkExpr(expr string) error {
	if expr == "" {
		return nil
	}
	_, err := pcapfilter.CompileBPF(expr, pcapfilter.Ethernet)
	return err
}
