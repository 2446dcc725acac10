// Package pcapfilter compiles pcap-filter expressions (tcpdump's filter
// syntax, pcap-filter(7)) into classic BPF and into eBPF function bodies
// that droptrace injects into its kernel programs, in pure Go.
//
// # Pipeline
//
// An expression is parsed here into a tree, compiled to classic BPF
// (golang.org/x/net/bpf) with libpcap 1.10's semantics (CompileBPF),
// converted to eBPF by github.com/cloudflare/cbpfc, and rewritten so that
// every packet load goes through bpf_probe_read_kernel (Compile). On
// kernels with the bpf_rdonly_cast kfunc (6.2+) CastLoads makes each load
// a kfunc call and one guarded load instead, a fraction of the cost.
// Inject then replaces the body of a stub function in a CollectionSpec
// with it.
//
// github.com/packetcap/go-pcap's filter package was the suggested
// front end, but on the differential corpus (TestProbeGoPcap) it matched
// tcpdump on 36 of 118 expressions, compiled 56 into a different or
// invalid filter without an error (offsets fixed to Ethernet, and/or
// precedence, byte offsets read as plain "tcp", out-of-range jumps) and
// refused 26; it also resolves unknown words with DNS and has no raw IP
// mode. A filter that silently means something else is worse than none,
// so the parser and code generator are ours and only the probe test
// imports go-pcap.
//
// # Semantics
//
// A packet matches here exactly when tcpdump -r selects it from a capture
// of the same bytes with the same expression and link type (Ethernet or
// raw IP); the differential tests check this on a corpus of expressions
// and packets. That includes libpcap's choices:
//   - and/or have equal precedence and associate to the left; not binds
//     tighter. A bare address or port inherits the previous qualifiers
//     ("port 80 or 443").
//   - "vlan" tests the in-packet 802.1Q/802.1ad tag and moves every
//     offset parsed after it by 4 bytes. A tag the kernel keeps in
//     skb->vlan_tci is not in the data and is not seen.
//   - tcp[], udp[], icmp[]... are IPv4 only and apply to the first
//     fragment; IPv6 ports are read right after the fixed header; "ip6
//     proto" and "tcp" look behind one IPv6 fragment header.
//   - In arithmetic only the left operand's protocol test applies
//     ("ip[2:2] - tcp[12] != 0" also selects UDP), as in libpcap 1.10.
//   - A load past the end of the data makes the whole packet not match.
//
// # Calling convention of the eBPF filter
//
// The stub in C must be a static, not inlined function with three 64-bit
// arguments whose body uses them all, so that clang keeps them in R1-R3:
//
//		static __noinline bool filter_pcap_l3(__u64 data, __u64 data_end, __u64 len)
//		{
//			/* Replaced at load by pcapfilter.Inject. */
//			return data < data_end && len != 0;
//		}
//
//	  - R1 data: address of the first byte, the MAC header for Ethernet,
//	    the IPv4/IPv6 header for RawIP (e.g. skb->head + skb->mac_header or
//	    + skb->network_header).
//	  - R2 data_end: one past the last byte that may be read, normally the
//	    end of the skb's linear data (skb->head + skb->tail...).
//	  - R3 len: the packet's length counted from data, including any
//	    non-linear part; pcap-filter's "len", "greater" and "less" use it.
//	  - R0 on return: 1 if the packet matches, 0 if not or if a read fails.
//
// data and data_end must be plain numbers to the verifier (a direct read
// of skb->head in tp_btf, or BPF_CORE_READ), never dereferenced: bytes
// are read with bpf_probe_read_kernel, so the program type must allow
// that helper (tracing types) and a GPL-compatible license. The body uses
// R0-R9 of its own frame and 88 bytes of its stack, counted against the
// 512-byte limit together with its callers'.
//
// This package must not resolve names (no DNS, no /etc/services: service
// names come from a fixed table), read the system, load or attach
// programs, or print. Labels it emits start with "pcapfilter_"; functions
// of the target program must not.
package pcapfilter
