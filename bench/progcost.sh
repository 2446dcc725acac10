#!/usr/bin/env bash
# Measures what the drop program costs per call, per configuration: its
# size after verification (instructions, JIT bytes) and the median of the
# kernel's own run-time statistics (kernel.bpf_stats_enabled) over several
# windows of a UDP drop storm across a veth pair.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${DROPTRACE_BIN:-./droptrace}
windows=${WINDOWS:-5}
id=$$
ns_s=dtb-s-$id ns_c=dtb-c-$id
cleanup() {
	[[ -n ${tracer:-} ]] && kill -INT "$tracer" 2>/dev/null && wait "$tracer" 2>/dev/null || true
	ip netns del "$ns_s" 2>/dev/null || true
	ip netns del "$ns_c" 2>/dev/null || true
	sysctl -qw kernel.bpf_stats_enabled=0
}
trap cleanup EXIT

ip netns add "$ns_s"
ip netns add "$ns_c"
ip link add dtbc netns "$ns_c" type veth peer name dtbs netns "$ns_s"
ip -n "$ns_c" addr add 10.195.0.1/24 dev dtbc
ip -n "$ns_s" addr add 10.195.0.2/24 dev dtbs
ip -n "$ns_c" link set dtbc up
ip -n "$ns_s" link set dtbs up
ip -n "$ns_s" link set lo up
# Drop iperf3's 64-byte datagrams (IP length 92), not its 4-byte handshake.
ip netns exec "$ns_s" iptables -A INPUT -p udp --dport 5201 -m length --length 92 -j DROP
sysctl -qw kernel.bpf_stats_enabled=1

# stats prints "run_cnt run_time_ns" of the drop program.
stats() {
	bpftool prog show id "$1" -j | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"'
}

# own_prog prints the id of the drop program that process $1 loaded:
# other droptrace instances may be running.
own_prog() {
	local id
	for id in $(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u); do
		if bpftool prog show id "$id" -j | jq -e '.name | test("^kfree_skb_(btf|tp)$")' >/dev/null; then
			echo "$id"
			return
		fi
	done
}

measure() {
	local label=$1
	shift
	"$bin" "$@" >/dev/null 2>/tmp/progcost.err &
	tracer=$!
	local prog=""
	for _ in $(seq 50); do
		prog=$(own_prog "$tracer")
		[[ -n $prog ]] && break
		sleep 0.1
	done
	[[ -n $prog ]] || { cat /tmp/progcost.err >&2; exit 1; }
	local per=()
	for _ in $(seq "$windows"); do
		read -r c0 t0 < <(stats "$prog")
		ip netns exec "$ns_s" iperf3 -s -1 -D >/dev/null 2>&1
		sleep 0.2
		ip netns exec "$ns_c" iperf3 -c 10.195.0.2 -u -b 0 -l 64 -t 1 >/dev/null 2>&1 || true
		read -r c1 t1 < <(stats "$prog")
		per+=("$(( (t1 - t0) / ((c1 - c0) > 0 ? (c1 - c0) : 1) ))")
	done
	local size
	size=$(bpftool prog show id "$prog" -j | jq -r '"\(.bytes_xlated/8) \(.bytes_jited)"')
	kill -INT "$tracer"; wait "$tracer" || true; tracer=""
	local med
	med=$(printf '%s\n' "${per[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	printf '%-40s %6s %6s %8s   %s\n' "$label" ${size} "$med" "${per[*]}"
}

echo "Drop program cost per call (median of $windows one-second storm windows)"
printf '%-40s %6s %6s %8s   %s\n' configuration insns jit_B ns/call "windows"
measure "no filter, every drop to user space" --output json
measure "no filter, with packet capture" -w /dev/null
measure "dst+port+proto filter, matching nothing" --filter-dst-ip 192.0.2.1 --filter-port 9 --filter-proto tcp
measure "netns filter, matching nothing" --filter-netns 1
measure "reason filter, matching nothing" --filter-reason NO_SOCKET
