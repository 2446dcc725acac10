#!/usr/bin/env bash
# Times path-tracing attach and detach per backend, inside stock Debian
# 6.1 and 6.12 kernels under qemu (vmtest/run.sh). The figures are under
# software emulation (TCG): compare backends within one run, not with
# real hardware.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
DROPTRACE_BENCH_ALL=1 bash vmtest/run.sh --run '^TestAttachAll$' --timeout 400 >"$log" 2>&1 || {
	tail -40 "$log" >&2
	echo "bench/attach.sh: the VM run failed" >&2
	exit 1
}
echo "Path-tracing attach/detach per backend (qemu TCG emulation; kprobe and fentry on the first 200 functions)"
grep -o 'DROPTRACE-BENCH .*' "$log" | awk '
BEGIN { printf "%-7s %-13s %7s %12s %10s %10s\n", "kernel", "backend", "funcs", "tracepoints", "attach_s", "detach_s" }
{
	delete f
	for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	printf "%-7s %-13s %7s %12s %10.2f %10.2f\n", f["kernel"], f["backend"], f["funcs"], f["tracepoints"], f["attach_ms"] / 1000, f["detach_ms"] / 1000
}'
