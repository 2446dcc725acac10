package filter

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// ReasonLookup resolves a drop reason name to its code; kernel.DropReasons
// implements it. Case-insensitivity is the lookup's business.
type ReasonLookup interface {
	Code(name string) (uint32, bool)
}

// Error is a usage error in one flag; main prints it as one line and exits
// with status 2.
type Error struct {
	Flag    string // e.g. "--filter-port"
	Problem string // what is wrong, starting with the offending value
}

// Error returns the flag and the problem as one line.
func (e *Error) Error() string {
	return e.Flag + ": " + e.Problem
}

func flagError(flag, format string, args ...any) error {
	return &Error{Flag: flag, Problem: fmt.Sprintf(format, args...)}
}

// parsePrefix accepts an address or a CIDR prefix. IPv4-mapped IPv6 is
// unmapped because the kernel sees such traffic as IPv4.
func parsePrefix(flag, arg string) (netip.Prefix, error) {
	if arg == "" {
		return netip.Prefix{}, nil
	}
	if strings.ContainsRune(arg, '%') {
		return netip.Prefix{}, flagError(flag, "%q has an IPv6 zone, which is not supported", arg)
	}
	p, err := toPrefix(arg)
	if err != nil {
		return netip.Prefix{}, flagError(flag, "%q is not an IP address or CIDR prefix", arg)
	}
	p = p.Masked()
	// After masking, a 4in6 address implies at least 96 bits.
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

func toPrefix(arg string) (netip.Prefix, error) {
	if strings.ContainsRune(arg, '/') {
		return netip.ParsePrefix(arg)
	}
	a, err := netip.ParseAddr(arg)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parsePort(arg string) (uint16, error) {
	if arg == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(arg, 10, 16)
	if err != nil || n == 0 {
		return 0, flagError("--filter-port", "%q is not a port number (1-65535)", arg)
	}
	return uint16(n), nil
}

var protoNames = map[string]Proto{
	"tcp":    ProtoTCP,
	"udp":    ProtoUDP,
	"icmp":   ProtoICMP,
	"icmp6":  ProtoICMP6,
	"icmpv6": ProtoICMP6,
}

func parseProto(arg string) (Proto, error) {
	if arg == "" {
		return ProtoAny, nil
	}
	p, ok := protoNames[strings.ToLower(arg)]
	if !ok {
		return 0, flagError("--filter-proto", "%q is not a supported protocol (tcp, udp, icmp, icmp6)", arg)
	}
	return p, nil
}

func parseNetns(arg string) (uint32, error) {
	if arg == "" {
		return 0, nil
	}
	ino, err := NetnsInode(arg)
	if err != nil {
		return 0, &Error{Flag: "--filter-netns", Problem: err.Error()}
	}
	return ino, nil
}

// parseIfname applies the kernel's dev_valid_name rules so that a name
// which can never match is refused up front. The interface need not exist
// here: the kernel matches by name, in whatever namespace the drop is in.
func parseIfname(arg string) (string, error) {
	const ifNameMax = 15 // IFNAMSIZ without the NUL
	switch {
	case arg == "":
		return "", nil
	case len(arg) > ifNameMax:
		return "", flagError("--filter-ifname", "%q is longer than %d bytes", arg, ifNameMax)
	case arg == "." || arg == "..":
		return "", flagError("--filter-ifname", "%q is not an interface name", arg)
	case strings.ContainsAny(arg, "/:") || strings.ContainsFunc(arg, unicode.IsSpace):
		return "", flagError("--filter-ifname", "%q contains '/', ':' or whitespace", arg)
	}
	return arg, nil
}

// ParseReasons resolves the reason names of flag given as repeated flags,
// comma-separated lists, or both, keeping the user's order and dropping
// repeats. Every error is an *Error naming flag.
func ParseReasons(flag string, args []string, lookup ReasonLookup) ([]uint32, error) {
	var codes []uint32
	for _, arg := range args {
		for name := range strings.SplitSeq(arg, ",") {
			code, err := lookupReason(flag, strings.TrimSpace(name), lookup)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(codes, code) {
				codes = append(codes, code)
			}
		}
	}
	return codes, nil
}

func lookupReason(flag, name string, lookup ReasonLookup) (uint32, error) {
	if name == "" {
		return 0, flagError(flag, "empty drop reason name")
	}
	if lookup == nil {
		return 0, flagError(flag, "drop reason names are not available on this kernel")
	}
	code, ok := lookup.Code(name)
	if !ok {
		return 0, flagError(flag, "unknown drop reason %q (see --list-reasons)", name)
	}
	return code, nil
}

// checkCombination rejects flags that are valid alone but can never match
// together.
func checkCombination(s Spec) error {
	if s.Src.IsValid() && s.Dst.IsValid() && s.Src.Addr().Is4() != s.Dst.Addr().Is4() {
		return flagError("--filter-dst-ip", "%s is %s but --filter-src-ip is %s", s.Dst, family(s.Dst), family(s.Src))
	}
	addr := s.Src
	if !addr.IsValid() {
		addr = s.Dst
	}
	if addr.IsValid() && isICMP(s.Proto) && (s.Proto == ProtoICMP) != addr.Addr().Is4() {
		return flagError("--filter-proto", "%s cannot match the %s address filter %s", s.Proto, family(addr), addr)
	}
	if s.Port != 0 && isICMP(s.Proto) {
		return flagError("--filter-port", "%s has no ports", s.Proto)
	}
	return nil
}

func isICMP(p Proto) bool {
	return p == ProtoICMP || p == ProtoICMP6
}

func family(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// String returns the protocol's --filter-proto name, "any", or the
// number for a protocol --filter-proto does not offer.
func (p Proto) String() string {
	switch p {
	case ProtoAny:
		return "any"
	case ProtoICMP:
		return "icmp"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP6:
		return "icmp6"
	}
	return strconv.Itoa(int(p))
}

// String describes the filters compactly for the startup line, e.g.
// "dst 10.0.0.2/32, port 80, proto tcp", or "none" for the zero Spec.
func (s Spec) String() string {
	var parts []string
	if s.Src.IsValid() {
		parts = append(parts, "src "+s.Src.String())
	}
	if s.Dst.IsValid() {
		parts = append(parts, "dst "+s.Dst.String())
	}
	if s.Port != 0 {
		parts = append(parts, "port "+strconv.Itoa(int(s.Port)))
	}
	if s.Proto != ProtoAny {
		parts = append(parts, "proto "+s.Proto.String())
	}
	if s.Netns != 0 {
		parts = append(parts, "netns "+strconv.FormatUint(uint64(s.Netns), 10))
	}
	if s.Ifname != "" {
		parts = append(parts, "ifname "+s.Ifname)
	}
	if len(s.Reasons) > 0 {
		parts = append(parts, "reason "+joinCodes(s.Reasons))
	}
	if len(s.Exclude) > 0 {
		parts = append(parts, "not reason "+joinCodes(s.Exclude))
	}
	if s.Expr != "" {
		parts = append(parts, "expression "+strconv.Quote(s.Expr))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func joinCodes(codes []uint32) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = strconv.FormatUint(uint64(c), 10)
	}
	return strings.Join(s, "|")
}
