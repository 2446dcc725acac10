/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef DROPTRACE_EVENT_H
#define DROPTRACE_EVENT_H

#include <linux/types.h>

/* MAX_SNAPLEN bounds the packet bytes copied per event; a power of two. */
#define MAX_SNAPLEN 2048

enum event_kind {
	EVENT_DROP = 1,
	EVENT_TRACE = 2,   /* an skb passed a traced function or tracepoint */
	EVENT_CONSUME = 3, /* a traced skb was freed normally */
	EVENT_TCP_RETRANSMIT = 4,	  /* tcp:tcp_retransmit_skb */
	EVENT_TCP_RETRANSMIT_SYNACK = 5, /* tcp:tcp_retransmit_synack */
	EVENT_TCP_RESET_SENT = 6,	  /* tcp:tcp_send_reset */
	EVENT_TCP_RESET_RECEIVED = 7,	  /* tcp:tcp_receive_reset */
};

enum link_kind {
	LINK_NONE = 0,
	LINK_ETHERNET = 1,
	LINK_RAW_IP = 2,
};

/* reply_kind says what a REJECT sent back, seen just before the drop on
 * its CPU: an ICMP error (icmp:icmp_send with the dropped skb), an ICMPv6
 * error or a TCP RST (net:net_dev_queue, addressed to the packet's
 * sender). */
enum reply_kind {
	REPLY_NONE = 0,
	REPLY_ICMP = 1,
	REPLY_ICMP6 = 2,
	REPLY_TCP_RESET = 3,
};

/* stat_index names the slots of the per-CPU stats array. */
enum stat_index {
	STAT_SEEN = 0,		   /* drops that matched the filters (path steps: only those
				    * refused a slot; the step rings' heads count the rest) */
	STAT_LOST = 1,		   /* matched drops the ring buffer had no room for */
	STAT_TCP_SEEN = 2,	   /* TCP events that matched the filters */
	STAT_TCP_LOST = 3,	   /* matched TCP events the ring buffer had no room for */
	STAT_SUMMARY_OVERFLOW = 4, /* --summary drops not counted: the map was full */
	STAT_MAX = 5,
};

/* CT_STATE_READ marks event.ct_state as read from the skb. */
#define CT_STATE_READ 0x80

/* event is what one matched drop or TCP event sends to user space. A
 * struct tcp_sample follows it when has_tcp_sample is set, then a struct
 * nft_rule_sample when has_nft_rule is set, then cap_len bytes of packet.
 * Addresses and ports are in network byte order. */
struct event {
	__u64 ts;
	__u64 skb;
	__u64 location;
	__u32 reason;
	__u32 netns;
	__u32 ifindex;
	__u32 mark;
	__u32 len;
	__u32 cpu;
	__u32 orig_len;
	__u16 cap_len;
	__be16 protocol;
	__u8 kind;
	__u8 family;
	__u8 l4proto;
	__u8 link;
	__be16 sport;
	__be16 dport;
	__u32 saddr[4];
	__u32 daddr[4];
	char ifname[16];
	/* The TCP socket of the event, or of the dropped skb; 0 when none. */
	__u64 sock_cookie;
	__u8 tcp_state;	   /* the socket's state (TCP_ESTABLISHED, ...); 0 when none */
	__u8 sk_src_local; /* saddr/sport are the socket's local end */
	/* The skb's conntrack state at a drop, as nft's ct state bits
	 * (invalid 1, established 2, related 4, new 8, untracked 64) with
	 * CT_STATE_READ set; 0 when not read. ct_status is the low 16 bits of
	 * the connection's status (IPS_*), 0 when there is none. */
	__u8 ct_state;
	__u8 reply; /* enum reply_kind: what the kernel sent back before the drop */
	__u16 ct_status;
	__u8 reply_type; /* ICMP/ICMPv6 type of the reply */
	__u8 reply_code; /* ICMP/ICMPv6 code of the reply */
	__u8 tcp_flags; /* byte 13 of the packet's TCP header; 0 when none */
	__u8 has_tcp_sample; /* a struct tcp_sample follows */
	__u8 has_nft_rule;   /* a struct nft_rule_sample follows (after the tcp_sample) */
	__u8 pad[5];
};

/* tcp_sample is a TCP socket's state read from the socket at the event,
 * in the units of struct tcp_info (tcp_get_info()). Only TCP events and,
 * with --tcp, drops of packets of a TCP connection carry one, so other
 * records do not grow. */
struct tcp_sample {
	__u32 rtt_us;	     /* srtt_us >> 3 */
	__u32 rttvar_us;     /* mdev_us >> 2 */
	__u32 rto_us;	     /* icsk_rto, from jiffies */
	__u32 total_retrans;
	__u32 lost;	     /* lost_out */
	__u32 sacked;	     /* sacked_out */
	__u32 unacked;	     /* packets_out */
	__u32 snd_cwnd;
	__u32 snd_ssthresh;
	__u8 retransmits;    /* icsk_retransmits */
	__u8 pad[3];
};

/* NFT_NAME_LEN bounds the table and chain names an nft_rule_sample
 * carries, with their NUL: longer names are cut. */
#define NFT_NAME_LEN 32

/* nft_rule_sample is the nftables rule, or base chain policy, that the
 * kernel itself said dropped a NETFILTER_DROP packet (nftrace.h). Only
 * such drops carry one, so other records do not grow. */
struct nft_rule_sample {
	__u64 handle;		  /* the rule's handle; 0 for a chain policy */
	char table[NFT_NAME_LEN]; /* the rule's table */
	char chain[NFT_NAME_LEN]; /* its chain; "" when not found (nftrace.h) */
	__u8 family;		  /* the table's family, NFPROTO_* (inet 1, ip 2, ip6 10) */
	__u8 hook;		  /* the hook the packet was at (NF_INET_*) */
	__u8 policy;		  /* the base chain's policy dropped it */
	__u8 pad[5];
};

#endif
