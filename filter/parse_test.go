package filter

import (
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// fakeReasons stands in for kernel.DropReasons, including its
// case-insensitive matching.
type fakeReasons map[string]uint32

func (f fakeReasons) Code(name string) (uint32, bool) {
	c, ok := f[strings.ToUpper(name)]
	return c, ok
}

var testReasons = fakeReasons{
	"NOT_SPECIFIED":  2,
	"NO_SOCKET":      3,
	"NETFILTER_DROP": 6,
}

func selfNetnsInode(t *testing.T) uint32 {
	t.Helper()
	fi, err := os.Stat("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("stat own netns: %v", err)
	}
	return uint32(fi.Sys().(*syscall.Stat_t).Ino)
}

func TestParseGood(t *testing.T) {
	self := selfNetnsInode(t)
	tests := []struct {
		name  string
		flags Flags
		want  Spec
	}{
		{"nothing", Flags{}, Spec{}},
		{"v4 address", Flags{DstIP: "10.0.0.2"}, Spec{Dst: netip.MustParsePrefix("10.0.0.2/32")}},
		{"v4 cidr masked", Flags{SrcIP: "10.1.2.3/8"}, Spec{Src: netip.MustParsePrefix("10.0.0.0/8")}},
		{"v6 address", Flags{SrcIP: "2001:db8::1"}, Spec{Src: netip.MustParsePrefix("2001:db8::1/128")}},
		{"v6 cidr masked", Flags{DstIP: "2001:db8::1/32"}, Spec{Dst: netip.MustParsePrefix("2001:db8::/32")}},
		{"v4-mapped address", Flags{DstIP: "::ffff:10.0.0.2"}, Spec{Dst: netip.MustParsePrefix("10.0.0.2/32")}},
		{"v4-mapped cidr", Flags{DstIP: "::ffff:10.9.0.0/104"}, Spec{Dst: netip.MustParsePrefix("10.0.0.0/8")}},
		{"mapped src, plain v4 dst", Flags{SrcIP: "::ffff:1.2.3.4", DstIP: "5.6.7.8"}, Spec{
			Src: netip.MustParsePrefix("1.2.3.4/32"), Dst: netip.MustParsePrefix("5.6.7.8/32"),
		}},
		{"zero prefix", Flags{SrcIP: "0.0.0.0/0"}, Spec{Src: netip.MustParsePrefix("0.0.0.0/0")}},
		{"port", Flags{Port: "80"}, Spec{Port: 80}},
		{"port max", Flags{Port: "65535"}, Spec{Port: 65535}},
		{"port with tcp", Flags{Port: "443", Proto: "tcp"}, Spec{Port: 443, Proto: ProtoTCP}},
		{"proto upper case", Flags{Proto: "UDP"}, Spec{Proto: ProtoUDP}},
		{"proto icmp v4", Flags{Proto: "icmp", DstIP: "10.0.0.1"}, Spec{Proto: ProtoICMP, Dst: netip.MustParsePrefix("10.0.0.1/32")}},
		{"proto icmp6 v6", Flags{Proto: "icmp6", SrcIP: "fe80::/10"}, Spec{Proto: ProtoICMP6, Src: netip.MustParsePrefix("fe80::/10")}},
		{"proto icmpv6 alias", Flags{Proto: "ICMPv6"}, Spec{Proto: ProtoICMP6}},
		{"netns inode", Flags{Netns: "4026531840"}, Spec{Netns: 4026531840}},
		{"netns path", Flags{Netns: "/proc/self/ns/net"}, Spec{Netns: self}},
		{"ifname", Flags{Ifname: "eth0"}, Spec{Ifname: "eth0"}},
		{"ifname 15 bytes", Flags{Ifname: "abcdefghijklmno"}, Spec{Ifname: "abcdefghijklmno"}},
		{"ifname absent here", Flags{Ifname: "veth-nowhere"}, Spec{Ifname: "veth-nowhere"}},
		{"reason", Flags{Reasons: []string{"NO_SOCKET"}}, Spec{Reasons: []uint32{3}}},
		{"reasons comma and repeat, order kept", Flags{Reasons: []string{"NETFILTER_DROP,no_socket", "NOT_SPECIFIED"}},
			Spec{Reasons: []uint32{6, 3, 2}}},
		{"reasons deduplicated", Flags{Reasons: []string{"NO_SOCKET, no_socket", "NO_SOCKET"}}, Spec{Reasons: []uint32{3}}},
		{"excluded reasons", Flags{Exclude: []string{"NETFILTER_DROP,no_socket", "NO_SOCKET"}}, Spec{Exclude: []uint32{6, 3}}},
		{"everything", Flags{SrcIP: "10.0.0.1", DstIP: "10.0.0.0/24", Port: "53", Proto: "udp", Netns: "4026531840", Ifname: "lo", Reasons: []string{"NO_SOCKET"}},
			Spec{
				Src: netip.MustParsePrefix("10.0.0.1/32"), Dst: netip.MustParsePrefix("10.0.0.0/24"),
				Port: 53, Proto: ProtoUDP, Netns: 4026531840, Ifname: "lo", Reasons: []uint32{3},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.flags, testReasons)
			if err != nil {
				t.Fatalf("Parse(%+v) error: %v", tt.flags, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%+v) = %+v, want %+v", tt.flags, got, tt.want)
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name     string
		flags    Flags
		wantFlag string
		wantText string // a fragment the message must contain
	}{
		{"ip octet too big", Flags{SrcIP: "10.0.0.300"}, "--filter-src-ip", `"10.0.0.300"`},
		{"prefix too long v4", Flags{DstIP: "1.2.3.4/33"}, "--filter-dst-ip", `"1.2.3.4/33"`},
		{"prefix too long v6", Flags{DstIP: "::1/129"}, "--filter-dst-ip", `"::1/129"`},
		{"hostname", Flags{SrcIP: "example.com"}, "--filter-src-ip", "not an IP address"},
		{"zone", Flags{SrcIP: "fe80::1%eth0"}, "--filter-src-ip", "zone"},
		{"zone in prefix", Flags{DstIP: "fe80::1%eth0/64"}, "--filter-dst-ip", "zone"},
		{"v4 src, v6 dst", Flags{SrcIP: "10.0.0.1", DstIP: "::1"}, "--filter-dst-ip", "IPv6"},
		{"v6 src, v4 dst", Flags{SrcIP: "2001:db8::/32", DstIP: "10.0.0.0/8"}, "--filter-dst-ip", "IPv4"},
		{"port too big", Flags{Port: "70000"}, "--filter-port", `"70000" is not a port number (1-65535)`},
		{"port zero", Flags{Port: "0"}, "--filter-port", `"0"`},
		{"port negative", Flags{Port: "-1"}, "--filter-port", `"-1"`},
		{"port plus sign", Flags{Port: "+80"}, "--filter-port", `"+80"`},
		{"port name", Flags{Port: "http"}, "--filter-port", `"http"`},
		{"port abc", Flags{Port: "abc"}, "--filter-port", `"abc"`},
		{"port list", Flags{Port: "80,443"}, "--filter-port", `"80,443"`},
		{"port blank", Flags{Port: " 80"}, "--filter-port", `" 80"`},
		{"proto sctp", Flags{Proto: "sctp"}, "--filter-proto", `"sctp"`},
		{"proto number", Flags{Proto: "6"}, "--filter-proto", `"6"`},
		{"icmp with v6 src", Flags{Proto: "icmp", SrcIP: "::1"}, "--filter-proto", "IPv6"},
		{"icmp with v6 dst", Flags{Proto: "icmp", DstIP: "2001:db8::/32"}, "--filter-proto", "IPv6"},
		{"icmp6 with v4", Flags{Proto: "icmp6", DstIP: "10.0.0.1"}, "--filter-proto", "IPv4"},
		{"icmp with port", Flags{Proto: "icmp", Port: "80"}, "--filter-port", "icmp"},
		{"icmpv6 with port", Flags{Proto: "icmpv6", Port: "80"}, "--filter-port", "icmp6"},
		{"netns zero", Flags{Netns: "0"}, "--filter-netns", `"0"`},
		{"netns inode too big", Flags{Netns: "4294967296"}, "--filter-netns", `"4294967296"`},
		{"netns unknown name", Flags{Netns: "droptrace-no-such-netns"}, "--filter-netns", `"droptrace-no-such-netns"`},
		{"netns dot dot", Flags{Netns: ".."}, "--filter-netns", `".."`},
		{"netns missing path", Flags{Netns: "/nonexistent/ns"}, "--filter-netns", "/nonexistent/ns"},
		{"netns not nsfs", Flags{Netns: "/proc/self/status"}, "--filter-netns", "not a namespace file"},
		{"netns wrong type", Flags{Netns: "/proc/self/ns/uts"}, "--filter-netns", "not a network namespace"},
		{"ifname too long", Flags{Ifname: "abcdefghijklmnop"}, "--filter-ifname", "15 bytes"},
		{"ifname slash", Flags{Ifname: "eth/0"}, "--filter-ifname", `"eth/0"`},
		{"ifname space", Flags{Ifname: "eth 0"}, "--filter-ifname", `"eth 0"`},
		{"ifname tab", Flags{Ifname: "eth\t0"}, "--filter-ifname", "whitespace"},
		{"ifname colon", Flags{Ifname: "eth0:1"}, "--filter-ifname", `"eth0:1"`},
		{"ifname dot", Flags{Ifname: "."}, "--filter-ifname", `"."`},
		{"reason unknown", Flags{Reasons: []string{"NO_SUCH_REASON"}}, "--filter-reason", `"NO_SUCH_REASON" (see --list-reasons)`},
		{"reason unknown in list", Flags{Reasons: []string{"NO_SOCKET,BOGUS"}}, "--filter-reason", `"BOGUS"`},
		{"reason empty element", Flags{Reasons: []string{"NO_SOCKET,"}}, "--filter-reason", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.flags, testReasons)
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%+v) = %+v, %v; want an *Error", tt.flags, got, err)
			}
			if fe.Flag != tt.wantFlag {
				t.Errorf("Parse(%+v) error flag = %q, want %q (%v)", tt.flags, fe.Flag, tt.wantFlag, err)
			}
			if !strings.Contains(fe.Problem, tt.wantText) {
				t.Errorf("Parse(%+v) problem = %q, want it to contain %q", tt.flags, fe.Problem, tt.wantText)
			}
			if !reflect.DeepEqual(got, Spec{}) {
				t.Errorf("Parse(%+v) returned %+v with an error, want the zero Spec", tt.flags, got)
			}
		})
	}
}

func TestParseReasonsWithoutLookup(t *testing.T) {
	_, err := Parse(Flags{Reasons: []string{"NO_SOCKET"}}, nil)
	var fe *Error
	if !errors.As(err, &fe) || fe.Flag != "--filter-reason" {
		t.Fatalf("Parse with nil lookup = %v, want an *Error on --filter-reason", err)
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse(Flags{Port: "70000"}, nil)
	got := err.Error()
	want := `--filter-port: "70000" is not a port number (1-65535)`
	if got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestSpecString(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{}, "none"},
		{Spec{Dst: netip.MustParsePrefix("10.0.0.2/32"), Port: 80, Proto: ProtoTCP}, "dst 10.0.0.2/32, port 80, proto tcp"},
		{Spec{Src: netip.MustParsePrefix("2001:db8::/32"), Proto: ProtoICMP6}, "src 2001:db8::/32, proto icmp6"},
		{Spec{Netns: 4026531840, Ifname: "eth0", Reasons: []uint32{3, 6}}, "netns 4026531840, ifname eth0, reason 3|6"},
		{Spec{Proto: 132}, "proto 132"},
	}
	for _, tt := range tests {
		if got := tt.spec.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.spec, got, tt.want)
		}
	}
}
