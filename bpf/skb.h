/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * skb.h reads what every droptrace event reports about an skb: device,
 * namespace and the IPv4/IPv6 and transport headers.
 */
#ifndef DROPTRACE_SKB_H
#define DROPTRACE_SKB_H

#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "event.h"
#include "filter.h"
#include "pcap.h"

#define HDR_UNSET ((__u16)~0U)
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_ICMPV6 58
#define IPPROTO_DSTOPTS 60
#define IPPROTO_SCTP 132
#define IPPROTO_UDPLITE 136
#define IP_OFFSET_MASK 0x1fff
#define IP6_OFFSET_MASK 0xfff8
#define IPV6_MAX_EXT_HDRS 4

/* RD reads a field directly where the pointer is BTF-typed (tp_btf), which
 * costs one load, and through bpf_probe_read_kernel otherwise. */
#define RD(direct, ptr, field) ((direct) ? (ptr)->field : BPF_CORE_READ(ptr, field))

static __always_inline bool has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_UDPLITE;
}

/* bpf_rdonly_cast (6.2+) makes a kernel address a read-only pointer to a
 * type of the kernel's BTF. Reads through it are single loads that the JIT
 * guards against faults: far cheaper than a bpf_probe_read_kernel call,
 * which is most of the cost of a drop that does not match the filters. The
 * kfunc is weak: where the kernel lacks it, it resolves to 0, can_cast() is
 * false and the verifier drops the cast paths as dead code. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#define can_cast() (bpf_rdonly_cast != 0)
#define pkt_cast(p, T) ((const T *)bpf_rdonly_cast((p), bpf_core_type_id_kernel(T)))

/* plain returns p, an argument of a tp_btf or fentry program, as a
 * pointer to T, cast where the kernel can (6.2+): the verifier types such
 * an argument trusted, and on every load of a pointer field through a
 * trusted pointer (skb->dev, dev->nd_net.net, ...) it searches the
 * kernel's BTF for the names that would keep the result trusted (6.4+).
 * That search is linear in vmlinux's types: two thirds of the time spent
 * verifying tp_btf/kfree_skb (perf, 6.18), seconds under qemu. The
 * programs read through it with plain loads either way. */
#define plain(p, T) (can_cast() ? (T *)pkt_cast((void *)(p), T) : (T *)(p))
#define plain_skb(p) plain(p, struct sk_buff)

/* cast_ports reads the two ports of a TCP/UDP-like header at l4 in one
 * load, where the kernel has bpf_rdonly_cast: the first is the low half
 * (bpfel). */
static __always_inline void cast_ports(unsigned char *l4, __be16 *sport, __be16 *dport)
{
	__u32 w = pkt_cast(l4, struct in_addr)->s_addr;

	*sport = (__be16)w;
	*dport = (__be16)(w >> 16);
}

/* read_ports fills the ports of a TCP/UDP-like header at l4. */
static __always_inline void read_ports(struct event *ev, unsigned char *l4)
{
	__be16 ports[2];

	if (!has_ports(ev->l4proto))
		return;
	if (can_cast()) {
		cast_ports(l4, &ev->sport, &ev->dport);
		return;
	}
	if (bpf_probe_read_kernel(ports, sizeof(ports), l4))
		return;
	ev->sport = ports[0];
	ev->dport = ports[1];
}

/* ipv4_head is an IPv4 header without options and the first four bytes
 * after it: the ports, when there are no options. One read gets both. */
struct ipv4_head {
	struct iphdr ip;
	__be16 ports[2];
};

/* parse_ipv4 fills ev from the IPv4 header ip found at nh. ports are the
 * four bytes after a header without options when the caller read them
 * already, else NULL. It returns the offset of the transport header from
 * nh, 0 when there is none to read. */
static __always_inline __u32 parse_ipv4(struct event *ev, unsigned char *nh,
					const struct iphdr *ip, const __be16 *ports)
{
	__u8 ihl = ip->ihl;

	if (ihl < 5)
		return 0;
	ev->family = 4;
	ev->l4proto = ip->protocol;
	ev->saddr[0] = ip->saddr;
	ev->daddr[0] = ip->daddr;
	/* Only the first fragment carries the transport header. */
	if (ip->frag_off & bpf_htons(IP_OFFSET_MASK) || !has_ports(ev->l4proto))
		return 0;
	if (ihl == 5 && ports) {
		ev->sport = ports[0];
		ev->dport = ports[1];
		return ihl * 4;
	}
	read_ports(ev, nh + ihl * 4);
	return ihl * 4;
}

static __always_inline bool is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT;
}

/* read_ext reads the first bytes of the extension header at p. */
static __always_inline bool read_ext(struct frag_hdr *x, unsigned char *p)
{
	if (can_cast()) {
		/* Field by field: a load may not span two fields of a cast. */
		const struct frag_hdr *c = pkt_cast(p, struct frag_hdr);

		x->nexthdr = c->nexthdr;
		x->reserved = c->reserved;
		x->frag_off = c->frag_off;
		return true;
	}
	return !bpf_probe_read_kernel(x, sizeof(*x), p);
}

/* parse_ipv6 fills ev from the IPv6 header at nh and returns the offset
 * of the transport header from nh, 0 when there is none to read. */
static __always_inline __u32 parse_ipv6(struct event *ev, unsigned char *nh)
{
	const struct ipv6hdr *ip;
	struct ipv6hdr copy;
	__u32 off = sizeof(copy);
	struct frag_hdr x;

	if (can_cast()) {
		ip = pkt_cast(nh, struct ipv6hdr);
	} else {
		if (bpf_probe_read_kernel(&copy, sizeof(copy), nh))
			return 0;
		ip = &copy;
	}
	if (ip->version != 6)
		return 0;
	ev->family = 6;
	__builtin_memcpy(ev->saddr, ip->saddr, 16);
	__builtin_memcpy(ev->daddr, ip->daddr, 16);
	ev->l4proto = ip->nexthdr;
#pragma unroll
	for (int i = 0; i < IPV6_MAX_EXT_HDRS; i++) {
		if (!is_ipv6_ext(ev->l4proto))
			break;
		if (!read_ext(&x, nh + off))
			return 0;
		if (ev->l4proto == IPPROTO_FRAGMENT) {
			ev->l4proto = x.nexthdr;
			if (x.frag_off & bpf_htons(IP6_OFFSET_MASK))
				return 0; /* not the first fragment: no ports */
			off += 8;
		} else {
			ev->l4proto = x.nexthdr;
			off += (x.reserved + 1) * 8;
		}
	}
	read_ports(ev, nh + off);
	return off;
}

/* headers locates the network header and the start of the captured bytes.
 * network_header is unset (~0) or, on a fresh skb that never had one, 0
 * with no mac header either: then there is nothing to parse. */
struct headers {
	unsigned char *head;
	__u16 nh;
	__u16 mh;
	__u32 l4; /* transport header's offset from nh; 0: none (parse_skb) */
	bool nh_ok;
	bool eth;
};

static __always_inline void locate(struct sk_buff *skb, struct headers *h, bool direct)
{
	h->head = RD(direct, skb, head);
	h->nh = RD(direct, skb, network_header);
	h->mh = RD(direct, skb, mac_header);
	h->nh_ok = h->nh != HDR_UNSET && !(h->nh == 0 && h->mh == HDR_UNSET);
	h->eth = h->nh_ok && h->mh != HDR_UNSET && h->nh - h->mh == ETH_HLEN;
}

/* network_header locates the skb's headers in h and returns its network
 * header, NULL when it has none to parse. */
static __always_inline unsigned char *network_header(struct sk_buff *skb, struct headers *h,
						      bool direct)
{
	locate(skb, h, direct);
	return h->nh_ok ? h->head + h->nh : 0;
}

/* read_ifname copies the device's name: two loads where dev is BTF-typed
 * (the bytes after its NUL, if any, are copied too and ignored), a string
 * read otherwise. */
static __always_inline void read_ifname(char *dst, struct net_device *dev, bool direct)
{
	if (direct) {
		const __u64 *src = (const __u64 *)dev->name;
		__u64 *d = (__u64 *)dst;

		d[0] = src[0];
		d[1] = src[1];
		return;
	}
	bpf_probe_read_kernel_str(dst, IFNAMSIZ, dev->name);
}

static __always_inline struct net_device *read_dev_opt(struct sk_buff *skb, struct event *ev,
							bool direct, bool name)
{
	struct net_device *dev = RD(direct, skb, dev);
	struct net *net = 0;

	ev->ifindex = 0;
	ev->netns = 0;
	ev->ifname[0] = 0;
	if (dev) {
		ev->ifindex = RD(direct, dev, ifindex);
		if (name)
			read_ifname(ev->ifname, dev, direct);
		net = RD(direct, dev, nd_net.net);
	} else {
		struct sock *sk = RD(direct, skb, sk);

		if (sk)
			net = RD(direct, sk, __sk_common.skc_net.net);
	}
	if (net)
		ev->netns = RD(direct, net, ns.inum);
	return dev;
}

/* read_dev fills the device and namespace of ev, with the device name. */
static __always_inline struct net_device *read_dev(struct sk_buff *skb, struct event *ev,
						    bool direct)
{
	return read_dev_opt(skb, ev, direct, true);
}

/* parse_skb fills the tuple of ev from the skb's headers, located in h. */
static __always_inline void parse_skb(struct sk_buff *skb, struct event *ev, struct headers *h,
				      bool direct)
{
	struct ipv4_head hd;
	unsigned char *nh;

	nh = network_header(skb, h, direct);
	h->l4 = 0;
	ev->family = 0;
	ev->l4proto = 0;
	ev->sport = 0;
	ev->dport = 0;
	/* saddr and daddr are not cleared: user space reads only the words
	 * that the family written here says are set. */
	if (!nh)
		return;
	if (can_cast()) {
		const struct iphdr *ip = pkt_cast(nh, struct iphdr);
		__u8 version = ip->version;

		if (version == 4)
			h->l4 = parse_ipv4(ev, nh, ip, NULL);
		else if (version == 6)
			h->l4 = parse_ipv6(ev, nh);
		return;
	}
	if (bpf_probe_read_kernel(&hd, sizeof(hd), nh))
		return;
	if (hd.ip.version == 4)
		h->l4 = parse_ipv4(ev, nh, &hd.ip, hd.ports);
	else if (hd.ip.version == 6)
		h->l4 = parse_ipv6(ev, nh);
}

/* read_tcp_flags sets ev's TCP flags, byte 13 of the TCP header that
 * parse_skb found (CWR ECE URG ACK PSH RST SYN FIN), 0 when the packet is
 * not TCP or a later fragment. Read once the event matched. */
static __always_inline void read_tcp_flags(struct event *ev, const struct headers *h)
{
	__u8 flags = 0;

	ev->tcp_flags = 0;
	if (ev->l4proto != IPPROTO_TCP || !h->l4)
		return;
	if (can_cast()) {
		/* Bytes 12-15 in one load; byte 13 is the second (bpfel). */
		ev->tcp_flags = pkt_cast(h->head + h->nh + h->l4 + 12, struct in_addr)->s_addr >> 8;
		return;
	}
	if (!bpf_probe_read_kernel(&flags, 1, h->head + h->nh + h->l4 + 13))
		ev->tcp_flags = flags;
}

/* packet_ident reads what tells apart two packets carried one after the
 * other by an skb at the same address with the same data buffer: the
 * IPv4 ID or the IPv6 flow label and, for TCP, the sequence and
 * acknowledgment numbers (a data segment moves the first, a bare ACK the
 * second, and an IPv4 ID moves with either). No hop of one skb's path
 * changes them: fragmentation keeps the ID, NAT rewrites only addresses
 * and ports. Another flow's packet differs in them too (Linux gives each
 * IPv6 flow its own label, net.ipv6.auto_flowlabels). They are compared
 * whatever the addresses, since the same flow's other direction or
 * another flow may take the address next; so a tunnel's outer header,
 * put on or taken off on the path, reads as another packet (trace.c,
 * same_packet). It reads the headers itself, before any filter: the
 * first word of the IP header, and the TCP header right after an IPv4
 * header (not in a later fragment) or an IPv6 one. 0 when there is none
 * to read (no IP header; IPv6 UDP without a flow label, say). */
static __always_inline __u64 packet_ident(struct sk_buff *skb, bool direct)
{
	__u8 version, ihl = 0, proto = 0;
	unsigned char *nh;
	struct headers h;
	struct iphdr ip;
	__u32 seq[2] = {};
	__u32 id = 0, word;
	__be16 frag = 0;
	__u32 l4 = 0;

	nh = network_header(skb, &h, direct);
	if (!nh)
		return 0;
	if (can_cast()) {
		const struct iphdr *c = pkt_cast(nh, struct iphdr);

		version = c->version;
		if (version == 4) {
			ihl = c->ihl;
			proto = c->protocol;
			frag = c->frag_off;
			id = c->id;
		} else if (version == 6) {
			proto = pkt_cast(nh, struct ipv6hdr)->nexthdr;
			word = pkt_cast(nh, struct in_addr)->s_addr;
			id = bpf_ntohl(word) & 0xfffff;
		}
	} else {
		if (bpf_probe_read_kernel(&ip, sizeof(ip), nh))
			return 0;
		version = ip.version;
		ihl = ip.ihl;
		frag = ip.frag_off;
		if (version == 4) {
			proto = ip.protocol;
			id = ip.id;
		} else {
			/* The IPv6 next header is byte 6, the iphdr's ttl. */
			proto = ip.ttl;
			__builtin_memcpy(&word, &ip, sizeof(word));
			id = bpf_ntohl(word) & 0xfffff;
		}
	}
	if (version == 4) {
		if (proto == IPPROTO_TCP && ihl >= 5 && !(frag & bpf_htons(IP_OFFSET_MASK)))
			l4 = ihl * 4;
	} else if (version == 6) {
		if (proto == IPPROTO_TCP)
			l4 = sizeof(struct ipv6hdr);
	} else {
		return 0;
	}
	if (l4) {
		if (can_cast()) {
			seq[0] = pkt_cast(nh + l4 + 4, struct in_addr)->s_addr;
			seq[1] = pkt_cast(nh + l4 + 8, struct in_addr)->s_addr;
		} else {
			bpf_probe_read_kernel(seq, sizeof(seq), nh + l4 + 4);
		}
	}
	return ((__u64)seq[0] << 32 | seq[1]) ^ ((__u64)id << 16);
}

/* l4proto_of reads only the IP protocol: one read for IPv4 and for IPv6
 * without extension headers, the full parse otherwise. */
static __always_inline __u8 l4proto_of(struct sk_buff *skb, struct event *ev, bool direct)
{
	unsigned char *nh;
	struct headers h;
	__u8 version;
	__u8 proto;
	__u8 ip[10];

	nh = network_header(skb, &h, direct);
	if (!nh)
		return 0;
	if (can_cast()) {
		const struct iphdr *ip4 = pkt_cast(nh, struct iphdr);

		version = ip4->version;
		if (version == 4)
			return ip4->protocol;
		if (version != 6)
			return 0;
		proto = pkt_cast(nh, struct ipv6hdr)->nexthdr;
	} else {
		if (bpf_probe_read_kernel(ip, sizeof(ip), nh))
			return 0;
		version = ip[0] >> 4;
		if (version == 4)
			return ip[9];
		if (version != 6)
			return 0;
		proto = ip[6];
	}
	if (!is_ipv6_ext(proto))
		return proto;
	ev->l4proto = 0;
	parse_ipv6(ev, nh);
	return ev->l4proto;
}

/* reads says what match() reads of an skb. It is a constant at every call,
 * so each program keeps only the reads it needs. */
enum reads {
	READ_EVENT, /* for an event: the place with the device name, the tuple */
	READ_KEY,   /* for a summary key: the place, the IP protocol only */
	READ_NONE,  /* nothing: the caller filled ev (from a socket) */
};

/* read_place fills ev's netns and device; the device's name only for an
 * event or a filter on it (a summary key reads it once per device). */
static __always_inline void read_place(struct sk_buff *skb, struct event *ev, bool direct,
				       enum reads reads)
{
	if (reads != READ_NONE)
		read_dev_opt(skb, ev, direct, reads == READ_EVENT || filters.ifname_on);
}

/* read_tuple fills ev's tuple: all of it for an event or a filter on it,
 * else only what a summary key needs. */
static __always_inline void read_tuple(struct sk_buff *skb, struct event *ev, struct headers *h,
				       bool direct, enum reads reads, bool filtering)
{
	if (reads == READ_EVENT || (reads == READ_KEY && filtering))
		parse_skb(skb, ev, h, direct);
	else if (reads == READ_KEY)
		ev->l4proto = l4proto_of(skb, ev, direct);
}

/* pcap_matches runs the pcap-filter expression, if one was given, on the
 * skb's packet (pcap.h); an skb without a network header matches nothing.
 * Events filled from a socket (READ_NONE) have no packet: user space
 * refuses an expression with them. */
static __always_inline bool pcap_matches(struct sk_buff *skb, struct headers *h, bool direct,
					 enum reads reads)
{
	if (!filters.pcap_on || reads == READ_NONE)
		return true;
	locate(skb, h, direct);
	if (!h->nh_ok)
		return false;
	return pcap_run(h->head, h->nh, h->eth, (__u64)RD(direct, skb, data), RD(direct, skb, len),
			RD(direct, skb, data_len));
}

/* match_tuple is the second stage of match(): the filters on the headers,
 * then the pcap-filter expression, the costliest. */
static __always_inline bool match_tuple(struct sk_buff *skb, struct event *ev, struct headers *h,
					bool direct, bool filter, enum reads reads)
{
	if (filter && tuple_filter_on()) {
		read_tuple(skb, ev, h, direct, reads, true);
		return tuple_matches(ev) && pcap_matches(skb, h, direct, reads);
	}
	if (filter && !pcap_matches(skb, h, direct, reads))
		return false;
	read_tuple(skb, ev, h, direct, reads, false);
	return true;
}

/* quick_reject says, from the fewest loads, that an IPv4 skb fails the
 * filters on the transport protocol or port (proto_matches,
 * port_matches): the header offsets, the IP version, header length,
 * protocol and fragment offset, and both ports in one load, with nothing
 * written anywhere. It reads the headers as parse_skb does and decides
 * as match() would; false means only that match() must decide (another
 * family, no such filter, a kernel without bpf_rdonly_cast). The probes
 * that see every packet call it before anything else, so that a packet
 * the usual --filter-port or --proto leaves out costs about seven loads. */
static __always_inline bool quick_reject(struct sk_buff *skb, bool direct)
{
	const struct iphdr *ip;
	struct headers h;
	__be16 sport = 0, dport = 0;
	__u8 proto = 0, ihl;
	unsigned char *nh;

	if (!can_cast() || !(filters.proto || filters.port))
		return false;
	nh = network_header(skb, &h, direct);
	if (nh) {
		ip = pkt_cast(nh, struct iphdr);
		if (ip->version != 4)
			return false;
		ihl = ip->ihl;
		if (ihl >= 5) {
			proto = ip->protocol;
			if (!(ip->frag_off & bpf_htons(IP_OFFSET_MASK)) && has_ports(proto))
				cast_ports(nh + ihl * 4, &sport, &dport);
		}
	}
	/* parse_skb leaves the protocol and ports 0 where it finds none. */
	return !proto_matches(proto) || !port_matches(sport, dport);
}

/* match is the order of the filters, the one place it is written; the
 * drop, summary, path and TCP programs all call it (the drop programs test
 * the reason first, reason_matches). It fills what reads asks of ev and,
 * with filter, says whether ev passes the filters given. Cheapest test
 * first, and nothing read before a filter that needs it decides: the place
 * is read first only when a filter on it can reject the skb before its
 * headers are parsed, else once the skb matched. Each *_filter_on() test
 * runs once per call, as a branch the verifier removes. */
static __always_inline bool match(struct sk_buff *skb, struct event *ev, struct headers *h,
				  bool direct, bool filter, enum reads reads)
{
	if (filter && place_filter_on()) {
		read_place(skb, ev, direct, reads);
		return place_matches(ev) && match_tuple(skb, ev, h, direct, filter, reads);
	}
	if (!match_tuple(skb, ev, h, direct, filter, reads))
		return false;
	read_place(skb, ev, direct, reads);
	return true;
}

/* read_skb_fields fills what an event reports of an skb beyond its place
 * and tuple; read only once it matches. */
static __always_inline void read_skb_fields(struct sk_buff *skb, struct event *ev, bool direct)
{
	ev->skb = (__u64)skb;
	ev->protocol = RD(direct, skb, protocol);
	ev->mark = RD(direct, skb, mark);
	ev->len = RD(direct, skb, len);
}

/* Conntrack's ctinfo values read_ct tells apart (enum ip_conntrack_info). */
#define IP_CT_IS_REPLY 3
#define IP_CT_UNTRACKED 7
#define NFCT_INFOMASK 7UL

/* read_ct fills ev->ct_state and ev->ct_status from skb->_nfct as nft's
 * ct expression sees them: a state bit for the ctinfo of a tracked
 * packet, untracked, else invalid. Left 0 on kernels without conntrack. */
static __always_inline void read_ct(struct sk_buff *skb, struct event *ev, bool direct)
{
	struct nf_conn *ct;
	unsigned long nfct;
	__u32 info;

	ev->ct_state = 0;
	ev->ct_status = 0;
	if (!bpf_core_field_exists(skb->_nfct))
		return;
	nfct = RD(direct, skb, _nfct);
	info = nfct & NFCT_INFOMASK;
	ct = (struct nf_conn *)(nfct & ~NFCT_INFOMASK);
	if (ct) {
		ev->ct_state = CT_STATE_READ | (1 << (info % IP_CT_IS_REPLY + 1));
		ev->ct_status = (__u16)BPF_CORE_READ(ct, status);
	} else if (info == IP_CT_UNTRACKED) {
		ev->ct_state = CT_STATE_READ | 64;
	} else {
		ev->ct_state = CT_STATE_READ | 1;
	}
}

#endif
