/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel structures droptrace reads, declared with only the fields
 * it uses. preserve_access_index makes every access a CO-RE relocation, so
 * the running kernel's BTF decides the real offsets at load time.
 */
#ifndef DROPTRACE_KERNEL_TYPES_H
#define DROPTRACE_KERNEL_TYPES_H

#include <linux/types.h>
#include <stdbool.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_HLEN 14
#define IFNAMSIZ 16

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} __attribute__((preserve_access_index)) possible_net_t;

struct net_device {
	char name[IFNAMSIZ];
	int ifindex;
	possible_net_t nd_net;
} __attribute__((preserve_access_index));

struct in6_addr {
	union {
		__u32 u6_addr32[4];
	} in6_u;
} __attribute__((preserve_access_index));

typedef struct {
	__s64 counter;
} __attribute__((preserve_access_index)) atomic64_t;

/* The address and port fields sit in anonymous unions in the kernel
 * (skc_addrpair, skc_portpair); CO-RE finds them through those. */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;     /* CONFIG_IPV6 only */
	struct in6_addr skc_v6_rcv_saddr; /* CONFIG_IPV6 only */
	atomic64_t skc_cookie;
} __attribute__((preserve_access_index));

/* sk_protocol and sk_type are bitfields before 5.6: read them with
 * BPF_CORE_READ_BITFIELD_PROBED, which handles both layouts. */
struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	__u16 sk_type;
} __attribute__((preserve_access_index));

/* The TCP socket fields tcp_get_info() reports; a struct tcp_sock starts
 * with its struct sock. */
struct inet_sock {
	struct sock sk;
} __attribute__((preserve_access_index));

struct inet_connection_sock {
	struct inet_sock icsk_inet;
	__u32 icsk_rto; /* jiffies */
	__u8 icsk_retransmits;
} __attribute__((preserve_access_index));

struct tcp_sock {
	struct inet_connection_sock inet_conn;
	__u32 srtt_us; /* smoothed RTT << 3, µs */
	__u32 mdev_us; /* RTT mean deviation << 2, µs */
	__u32 packets_out;
	__u32 lost_out;
	__u32 sacked_out;
	__u32 total_retrans;
	__u32 snd_cwnd;
	__u32 snd_ssthresh;
} __attribute__((preserve_access_index));

/* A connection request (TCP_NEW_SYN_RECV) before it becomes a sock. */
struct request_sock {
	struct sock_common __req_common;
} __attribute__((preserve_access_index));

struct sk_buff {
	struct net_device *dev;
	struct sock *sk;
	unsigned int len;
	unsigned int data_len;
	__u32 mark;
	__be16 protocol;
	__u16 transport_header;
	__u16 network_header;
	__u16 mac_header;
	unsigned char *head;
	unsigned char *data;
	unsigned long _nfct; /* conntrack: the nf_conn | ctinfo; CONFIG_NF_CONNTRACK only */
} __attribute__((preserve_access_index));

struct nf_conn {
	unsigned long status;
} __attribute__((preserve_access_index));

/* Declared so the classic tracepoint's record can be read with CO-RE. */
enum skb_drop_reason {
	SKB_DROP_REASON_NOT_SPECIFIED__LOCAL = 2,
	SKB_DROP_REASON_NETFILTER_DROP = 3, /* the value is relocated (bpf_core_enum_value) */
};

struct trace_entry {
	unsigned short type;
} __attribute__((preserve_access_index));

/* Record of the classic skb:kfree_skb tracepoint; reason exists since 5.17. */
struct trace_event_raw_kfree_skb {
	struct trace_entry ent;
	void *skbaddr;
	void *location;
	enum skb_drop_reason reason;
} __attribute__((preserve_access_index));

/* Records of the classic tcp:* tracepoints, for CO-RE reads of the
 * pointers they carry. tcp_retransmit_skb and tcp_send_reset had the
 * shared class tcp_event_sk_skb until they got records of their own
 * (tcp_send_reset in 6.10, tcp_retransmit_skb after 6.12, when it
 * gained err). */
struct trace_event_raw_tcp_event_sk_skb {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_retransmit_skb {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_send_reset {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_event_sk {
	struct trace_entry ent;
	const void *skaddr;
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_retransmit_synack {
	struct trace_entry ent;
	const void *skaddr;
	const void *req;
} __attribute__((preserve_access_index));

/*
 * Packet headers. They are wire formats, so these plain declarations have
 * the kernel's layout; the names match vmlinux's so that
 * bpf_core_type_id_kernel() finds their BTF for bpf_rdonly_cast(). The
 * IPv6 addresses are words so that they are read four bytes at a time.
 */
struct iphdr {
	__u8 ihl : 4, version : 4;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__sum16 check;
	__be32 saddr;
	__be32 daddr;
};

struct ipv6hdr {
	__u8 priority : 4, version : 4;
	__u8 flow_lbl[3];
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__be32 saddr[4];
	__be32 daddr[4];
};

/* The first bytes of any IPv6 extension header have this layout; for
 * others than the fragment header, "reserved" is the header's length. */
struct frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

/* in_addr is read as any four bytes of a packet in one load. */
struct in_addr {
	__be32 s_addr;
} __attribute__((preserve_access_index));

/* TCP, UDP, SCTP and UDP-Lite all start with the two ports. */
struct udphdr {
	__be16 source;
	__be16 dest;
	__be16 len;
	__sum16 check;
};

#endif
