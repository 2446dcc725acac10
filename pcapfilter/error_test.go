package pcapfilter

import (
	"errors"
	"strings"
	"testing"
)

// TestErrorsPointAtTheProblem checks that every bad or unsupported
// construct is refused with an *Error whose caret sits under the
// offending token, for the classic and the eBPF compiler alike: a filter
// is never silently compiled into something else.
func TestErrorsPointAtTheProblem(t *testing.T) {
	tests := []struct {
		expr string
		link Link
		pos  int
		want string
	}{
		{expr: "", want: "empty expression"},
		{expr: "host foo", pos: 5, want: "host names are not resolved"},
		{expr: "host 10.0.0.0/8", pos: 5, want: "not an IP address"},
		{expr: "10.0.0.1", want: "expected host, net, port"},
		{expr: "gateway 10.0.0.1", want: "gateway"},
		{expr: "ether host 00:11:22:33:44:55", want: "ether is only supported as ether[...]"},
		{expr: "ether src 00:11:22:33:44:55", want: "ether is only supported"},
		{expr: "ip protochain 6", pos: 3, want: "protochain is not supported"},
		{expr: "ip6 protochain 6", pos: 4, want: "protochain"},
		{expr: "broadcast", want: "broadcast"},
		{expr: "ip multicast", pos: 3, want: "multicast"},
		{expr: "tcp and inbound", pos: 8, want: "inbound"},
		{expr: "ifname eth0", want: "ifname"},
		{expr: "mpls and tcp", want: "mpls"},
		{expr: "tcp or pppoes", pos: 7, want: "pppoes"},
		{expr: "geneve", want: "geneve"},
		{expr: "wlan host 10.0.0.1", want: "wlan"},
		{expr: "llc", want: "llc"},
		{expr: "net 10.0.0.1/8", pos: 4, want: "bits set beyond the prefix"},
		{expr: "net 10", pos: 4, want: "not an IP address"},
		{expr: "net 10.0.0.0 mask 255.0.255.0", pos: 18, want: "not contiguous"},
		{expr: "port 99999", pos: 5, want: "not a port number"},
		{expr: "port nosuchservice", pos: 5, want: "not a port number or a known service"},
		{expr: "udp port http", pos: 9, want: "not defined for udp"},
		{expr: "portrange 10-", pos: 10, want: "not a port range"},
		{expr: "ip port 80", want: `"ip" cannot qualify port`},
		{expr: "tcp host 10.0.0.1", want: `"tcp" cannot qualify host`},
		{expr: "ip6 host 10.0.0.1", pos: 9, want: "not an IPv6 address"},
		{expr: "ip host ::1", pos: 8, want: "not an IPv4 address"},
		{expr: "src or src host 10.0.0.1", pos: 7, want: `expected "dst"`},
		{expr: "tcp[13:3] == 1", pos: 7, want: "load size must be 1, 2 or 4"},
		{expr: "tcp[13] == ", pos: 11, want: "expected a number"},
		{expr: "tcp[13] & 2", pos: 11, want: "expected a comparison"},
		{expr: "tcp[13 == 2", pos: 7, want: `expected "]"`},
		{expr: "tcp[13] == tcp-foo", pos: 11, want: `not "tcp-foo"`},
		{expr: "foo[1] == 0", want: "cannot be indexed"},
		{expr: "len / 0 > 1", pos: 4, want: "division by zero"},
		{expr: "host 10.0.0.1 and", pos: 17, want: "expected a primitive"},
		{expr: "(tcp or udp", pos: 11, want: `expected ")"`},
		{expr: "tcp)", pos: 3, want: `unexpected ")"`},
		{expr: "tcp udp", pos: 4, want: `unexpected "udp"`},
		{expr: "tcp[13] @ 2", pos: 8, want: "unexpected character '@'"},
		{expr: "ip proto 300", pos: 9, want: "expected an IP protocol"},
		{expr: "tcp proto 6", want: `"tcp" cannot qualify proto`},
		{expr: "greater", pos: 7, want: "expected a length"},
		{expr: "vlan 5000", pos: 5, want: "out of range"},
		{expr: "- 1 > 0", want: "expected an address or a port"},
		{expr: "not", pos: 3, want: "expected a primitive"},
		{expr: "vlan 100", link: RawIP, want: "vlan needs the link-layer header"},
		{expr: "tcp and arp", link: RawIP, pos: 8, want: "arp needs the link-layer header"},
		{expr: "arp host 10.0.0.1", link: RawIP, want: "arp needs"},
		{expr: "ether[0] & 1 != 0", link: RawIP, want: "ether[] needs the link-layer header"},
	}
	for _, tt := range tests {
		for name, compile := range map[string]func(string, Link) error{
			"classic": func(e string, l Link) error { _, err := CompileBPF(e, l); return err },
			"ebpf":    func(e string, l Link) error { _, err := Compile(e, l); return err },
		} {
			err := compile(tt.expr, tt.link)
			var perr *Error
			if !errors.As(err, &perr) {
				t.Errorf("%s %q (%s): got %v, want an *Error", name, tt.expr, tt.link, err)
				continue
			}
			if perr.Pos != tt.pos || !strings.Contains(perr.Problem, tt.want) || perr.Expr != tt.expr {
				t.Errorf("%s %q (%s): got pos %d %q, want pos %d containing %q", name, tt.expr, tt.link, perr.Pos, perr.Problem, tt.pos, tt.want)
			}
		}
	}
}

func TestErrorRendersCaretUnderPosition(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Expr: "tcp and foo", Pos: 8, Problem: "bad"}, "tcp and foo\n        ^ bad"},
		{Error{Expr: "tcp\tfoo", Pos: 4, Problem: "bad"}, "tcp\tfoo\n   \t^ bad"},
		{Error{Expr: "tcp", Pos: 3, Problem: "end"}, "tcp\n   ^ end"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
