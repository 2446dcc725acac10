#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# run.sh boots stock Debian kernels under qemu (TCG) and runs a Go test
# package inside each, as root, with a busybox initramfs. It exists because
# the host kernel has no kprobes and no fentry; the guests have both.
#
# usage: vmtest/run.sh [--kernels "6.1 6.12 arm64-6.12"] [--pkg ./vmtest/guest]
#                      [--run REGEX] [--timeout SECONDS] [--add FILE]...
#
# --kernels are Debian kernel series, amd64 unless prefixed arm64-
# (arm64-6.12 boots under qemu-system-aarch64); --pkg is a Go package path
# relative to the repository root; --run is passed to the test binary as
# -test.run; --timeout bounds each boot (default 480 s); --add puts a
# static binary into the guest's /bin (make bench adds pwru).
#
# Environment:
#   DROPTRACE_VM_CACHE  where kernel packages are kept between runs
#                       (default /var/cache/droptrace-vmtest)
#   DROPTRACE_VM_OUT    where console logs go, console-<series>.log
#                       (default: a new /tmp/droptrace-vmtest.* dir)
#   CI                  passed through to the guest
#   DROPTRACE_BENCH_ALL passed through: 1 makes TestAttachAll attach every
#                       function with kprobe and fentry too (slow)
#   DROPTRACE_BENCH_PATH passed through: 1 runs TestBenchPath (make bench)
#   DROPTRACE_BENCH_ROUNDS, DROPTRACE_BENCH_WINDOWS, DROPTRACE_BENCH_TRACERS
#                       passed through: TestBenchPath's rounds, windows per
#                       figure and tracers (a regex), when set
#   DROPTRACE_VM_ICOUNT when set, qemu counts instructions (-icount
#                       shift=VALUE,sleep=off, one TCG thread): guest time
#                       then follows the instructions the guest runs, not
#                       the host's load, so timings are reproducible
#   DROPTRACE_VM_SMP    with DROPTRACE_VM_ICOUNT, the number of vCPUs
#                       (default 2)
#
# Exit status: 0 when every kernel passed, 1 when one failed, 2 on a usage
# error.
set -euo pipefail

readonly marker=DROPTRACE-VMTEST-EXIT
readonly cache=${DROPTRACE_VM_CACHE:-/var/cache/droptrace-vmtest}

kernels="6.1 6.12 arm64-6.12"
pkg=./vmtest/guest
run_regex=""
timeout_s=480
adds=()

log() { printf 'vmtest: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	sed -n 's/^# \{0,1\}//; 8,15p' "$0"
	exit "${1:-2}"
}

parse_args() {
	while (($#)); do
		case $1 in
		--kernels) kernels=${2:?--kernels needs a value}; shift 2 ;;
		--pkg) pkg=${2:?--pkg needs a value}; shift 2 ;;
		--run) run_regex=${2:?--run needs a value}; shift 2 ;;
		--timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
		--add) adds+=("${2:?--add needs a file}"); shift 2 ;;
		-h | --help) usage 0 ;;
		*) log "unknown argument: $1"; usage 2 >&2 ;;
		esac
	done
	[[ $timeout_s =~ ^[0-9]+$ ]] || { log "--timeout: not a number: $timeout_s"; exit 2; }
}

# arch_of prints the Debian architecture of a --kernels entry: arm64 for
# arm64-6.12, else amd64; version_of prints its series (6.12).
arch_of() { [[ $1 == arm64-* ]] && echo arm64 || echo amd64; }
version_of() { echo "${1#arm64-}"; }

# ensure_packages installs the host tools, running apt-get update only
# when something is missing. arm64 kernels need qemu-system-arm and
# dpkg's arm64 architecture, to download arm64 packages.
ensure_packages() {
	local missing=() p pkgs=(qemu-system-x86 busybox-static cpio) series
	for series in $kernels; do
		[[ $(arch_of "$series") == arm64 ]] || continue
		pkgs+=(qemu-system-arm)
		if ! dpkg --print-foreign-architectures | grep -qx arm64; then
			log "adding dpkg architecture arm64 (for the arm64 kernel and busybox packages)"
			dpkg --add-architecture arm64
			apt-get update -qq
		fi
		break
	done
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# version_regex matches the image package names of one kernel series and
# architecture, e.g. 6.1 amd64 -> linux-image-6.1.0-56-amd64, 6.12 arm64 ->
# linux-image-6.12.117+deb12-arm64, but not the -cloud, -rt, -dbg or
# -unsigned flavours.
version_regex() {
	printf '^linux-image-%s\\.[0-9]+(-[0-9]+)?(\\+[a-z0-9.~]+)?-%s$' "${1//./\\.}" "$2"
}

# resolve_image prints the newest linux-image package of series $1: the one
# a Debian meta-package depends on, else the highest version apt knows.
resolve_image() {
	local series=$1
	find_image "$series" && return 0
	# A fresh machine may have no package lists yet, or old ones.
	log "no package for kernel $series in apt's lists: running apt-get update"
	apt-get update -qq >&2
	find_image "$series" || die "no Debian package found for kernel $series"
}

find_image() {
	local arch version re meta name
	arch=$(arch_of "$1")
	version=$(version_of "$1")
	re=$(version_regex "$version" "$arch")
	for meta in "linux-image-$version-$arch:$arch" "linux-image-$arch:$arch"; do
		name=$(apt-cache depends "$meta" 2>/dev/null |
			sed -n 's/^ *Depends: //p' | sed 's/:[a-z0-9]*$//' | grep -E "$re" | sort -V | tail -n1 || true)
		[[ -n $name ]] && { echo "$name"; return 0; }
	done
	name=$(apt-cache search --names-only "$re" 2>/dev/null |
		cut -d' ' -f1 | grep -E "$re" | sort -V | tail -n1 || true)
	[[ -n $name ]] || return 1
	echo "$name"
}

# fetch_deb downloads package $1 of architecture $2 into the cache unless
# it is there and prints the .deb's path.
fetch_deb() {
	local name=$1 arch=$2 dir="$cache/$1" deb
	[[ $name == busybox-static ]] && dir="$cache/$name-$arch"
	mkdir -p "$dir"
	deb=$(find "$dir" -maxdepth 1 -name "${name}_*.deb" | sort -V | tail -n1)
	if [[ -z $deb ]]; then
		log "downloading $name:$arch"
		# apt's _apt user must be able to write here.
		chmod 0777 "$dir"
		# Stale lists name a version the mirror no longer has: update once.
		(cd "$dir" && apt-get download -qq "$name:$arch" >&2) ||
			{ apt-get update -qq >&2 && (cd "$dir" && apt-get download -qq "$name:$arch" >&2); }
		deb=$(find "$dir" -maxdepth 1 -name "${name}_*.deb" | sort -V | tail -n1)
		[[ -n $deb ]] || die "apt-get download $name:$arch left no .deb in $dir"
	fi
	echo "$deb"
}

# fetch_kernel downloads image package $1 of architecture $2 into the
# cache unless it is there and prints the path of its vmlinuz.
fetch_kernel() {
	local name=$1 dir="$cache/$1" deb vmlinuz
	deb=$(fetch_deb "$name" "$2") || exit 1
	vmlinuz=$(find "$dir/root/boot" -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | head -n1 || true)
	if [[ -z $vmlinuz ]]; then
		rm -rf "$dir/root"
		dpkg -x "$deb" "$dir/root"
		vmlinuz=$(find "$dir/root/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n1)
		[[ -n $vmlinuz ]] || die "$deb has no boot/vmlinuz-*"
		# Only the kernel is booted; the few modules the guest tests
		# load are kept apart (fetch_modules), the rest take most of
		# the space.
		rm -rf "$dir/root/lib" "$dir/root/usr"
	fi
	echo "$vmlinuz"
}

# guest_modules are the modules the guest tests load themselves
# (vmtest/guest/nftrace_test.go): nf_tables and the expressions its rules
# use, and crc32c_generic, which libcrc32c (a dependency of nf_tables)
# asks for by a soft dependency. The guest gets them and what they depend
# on, nothing else of the package's modules.
readonly guest_modules="nf_tables nft_reject_inet nft_compat ipt_REJECT crc32c_generic"

# fetch_modules extracts the guest modules of image package $1 (cached,
# its .deb already downloaded), with their dependencies, decompressed,
# into the cache and prints the directory: <dir>/<release>/*.ko.
fetch_modules() {
	local name=$1 dir="$cache/$1" deb out tmp release
	out="$dir/guest-modules"
	if [[ ! -e $out/.done ]]; then
		deb=$(find "$dir" -maxdepth 1 -name "${name}_*.deb" | sort -V | tail -n1)
		tmp=$(mktemp -d "$dir/extract.XXXXXX")
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards \
			'./lib/modules/*/kernel/net/*' './lib/modules/*/kernel/lib/*' './lib/modules/*/kernel/crypto/*'
		release=$(basename "$(find "$tmp/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)")
		rm -rf "$out"
		mkdir -p "$out/$release"
		copy_modules "$tmp/lib/modules/$release" "$out/$release"
		rm -rf "$tmp"
		touch "$out/.done"
	fi
	echo "$out"
}

# copy_modules copies guest_modules and their dependencies (the modules'
# own depends= lines) from $1 to $2, decompressed; a module not in $1 is
# built into the kernel.
copy_modules() {
	local from=$1 to=$2 queue name f dep
	local -A seen=()
	read -ra queue <<<"$guest_modules"
	while ((${#queue[@]})); do
		name=${queue[0]}
		queue=("${queue[@]:1}")
		[[ -z $name || -n ${seen[$name]:-} ]] && continue
		seen[$name]=1
		f=$(find "$from" \( -name "$name.ko*" -o -name "${name//_/-}.ko*" \) | head -n1)
		[[ -n $f ]] || continue
		case $f in
		*.xz) xz -dc "$f" ;;
		*.zst) zstd -dcq "$f" ;;
		*) cat "$f" ;;
		esac >"$to/$name.ko"
		for dep in $(strings -a "$to/$name.ko" | sed -n 's/^depends=//p' | tr , ' '); do
			queue+=("$dep")
		done
	done
}

# write_init writes the guest's /init: mount what the tests use, let root
# see kernel addresses, bring up loopback, run the tests, print the marker
# with their exit status, power off.
write_init() {
	# Go's own timeout fires first, so a hung test prints its stacks.
	local out=$1 test_timeout=$((timeout_s > 60 ? timeout_s - 30 : timeout_s / 2 + 1))
	local args="-test.v -test.count=1 -test.timeout=${test_timeout}s" ci
	[[ -n $run_regex ]] && args+=" -test.run $(printf %q "$run_regex")"
	printf -v ci %q "${CI:-}"
	printf -v bench_all %q "${DROPTRACE_BENCH_ALL:-}"
	printf -v bench_path %q "${DROPTRACE_BENCH_PATH:-}"
	local bench_env="" v
	for v in DROPTRACE_BENCH_ROUNDS DROPTRACE_BENCH_WINDOWS DROPTRACE_BENCH_TRACERS DROPTRACE_VM_ICOUNT; do
		[[ -n ${!v:-} ]] && bench_env+=" $v=$(printf %q "${!v}")"
	done
	cat >"$out" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root TMPDIR=/tmp DROPTRACE_VM=1 CI=$ci DROPTRACE_BENCH_ALL=$bench_all DROPTRACE_BENCH_PATH=$bench_path$bench_env
mkdir -p /proc /sys /dev /tmp /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
echo 0 >/proc/sys/kernel/kptr_restrict
ip link set lo up
echo "DROPTRACE-VMTEST-UNAME=\$(uname -r)"
cd /root
/guest.test $args
echo "$marker=\$?"
sync
poweroff -f
EOF
	chmod 0755 "$out"
}

# busybox_of prints the path of a static busybox for architecture $1: the
# host's (busybox-static, which ensure_packages installed) for amd64, else
# the one of the arch's busybox-static package, kept in the cache.
busybox_of() {
	local arch=$1 deb dir
	if [[ $arch == "$(dpkg --print-architecture)" ]]; then
		echo /bin/busybox
		return
	fi
	deb=$(fetch_deb busybox-static "$arch")
	dir=$(dirname "$deb")/root
	[[ -x $dir/bin/busybox ]] || { rm -rf "$dir"; dpkg -x "$deb" "$dir"; }
	[[ -x $dir/bin/busybox ]] || die "$deb has no bin/busybox"
	echo "$dir/bin/busybox"
}

# build_initramfs builds the test binary and droptrace for architecture
# $2 and packs them with busybox, /init and the guest modules of the
# kernels of that architecture (/lib/modules/<release>/) into $1.
build_initramfs() {
	local out=$1 arch=$2 root busybox series
	root=$(mktemp -d "$workdir/root.XXXXXX")
	mkdir -p "$root/bin"
	# The initramfs has no libc: static busybox and test binary.
	busybox=$(busybox_of "$arch")
	cp "$busybox" "$root/bin/busybox"
	local f
	for f in "${adds[@]}"; do
		cp "$f" "$root/bin/"
	done
	GOARCH=$arch CGO_ENABLED=0 go test -c -o "$root/guest.test" "$pkg"
	[[ -x $root/guest.test ]] || die "$pkg has no tests to build"
	# The guest tests that run the real binary find it in /bin.
	GOARCH=$arch CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$root/bin/droptrace" ./cmd/droptrace
	mkdir -p "$root/lib/modules"
	for series in $kernels; do
		[[ $(arch_of "$series") == "$arch" ]] || continue
		cp -r "${moddir[$series]}"/. "$root/lib/modules/"
	done
	rm -f "$root/lib/modules/.done"
	write_init "$root/init"
	(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$out"
	rm -rf "$root"
}

# qemu_of prints the qemu command and machine that emulate architecture
# $1; console_of the name of its serial console.
qemu_of() {
	case $1 in
	# pauth-impdef: pointer authentication with a cheap hash, as the
	# architected one is slow to emulate.
	arm64) echo "qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on" ;;
	*) echo "qemu-system-x86_64 -cpu max" ;;
	esac
}
console_of() { [[ $1 == arm64 ]] && echo ttyAMA0 || echo ttyS0; }

# boot runs one kernel of architecture $5 with the initramfs, logging the
# console to $3 without carriage returns and the firmware's terminal
# escapes. It returns qemu's (or timeout's) status.
boot() {
	local vmlinuz=$1 initrd=$2 console=$3 series=$4
	local rc=0 qemu
	read -ra qemu <<<"$(qemu_of "$5")"
	local accel=(-accel tcg,thread=multi) smp=2
	if [[ -n ${DROPTRACE_VM_ICOUNT:-} ]]; then
		# Without cmpxchg16b: qemu's single-threaded TCG double-faulted
		# in SLUB's cmpxchg16b once under icount (6.12 guest).
		qemu[-1]+=",-cx16"
		accel=(-accel tcg,thread=single -icount "shift=$DROPTRACE_VM_ICOUNT,sleep=off")
		smp=${DROPTRACE_VM_SMP:-$smp}
	fi
	timeout --kill-after=10 "$timeout_s" "${qemu[@]}" \
		"${accel[@]}" -m 1024 -smp "$smp" \
		-nographic -no-reboot \
		-kernel "$vmlinuz" -initrd "$initrd" \
		-append "console=$(console_of "$5") quiet panic=-1" </dev/null 2>&1 |
		sed -u 's/\r$//; s/\x1bc//g; s/\x1b\[[0-9;?]*[A-Za-z]//g' |
		tee "$console" | sed -u "s/^/[$series] /" || rc=$?
	return "$rc"
}

# verdict prints why a console log shows a failure, or nothing when it
# shows a pass.
verdict() {
	local console=$1 code
	code=$(sed -n "s/.*$marker=\([0-9]*\).*/\1/p" "$console" | tail -n1)
	if [[ -z $code ]]; then
		echo "no $marker line (kernel panic, hang or timeout)"
	elif [[ $code != 0 ]]; then
		echo "tests exited with status $code"
	elif grep -q -- '--- FAIL' "$console"; then
		echo "a test reported --- FAIL"
	elif ! grep -q '^PASS$' "$console"; then
		echo "no final PASS line"
	fi
}

# failures prints, prefixed with $2, the lines of $1 that tell which
# tests failed and why: each "--- FAIL" line with the last lines the
# failed test logged, and a panic's first lines; at most 20 lines a
# kernel, as CI shows only the last 30 or so.
failures() {
	local console=$1 series=$2
	[[ -f $console ]] || return 0
	awk '
		/^=== (RUN|NAME|CONT) / { cur = $3; next }
		/^ *--- FAIL: / {
			name = $3
			for (i = (n[name] > 4 ? n[name] - 4 : 0); i < n[name]; i++) print msg[name, i % 4]
			print
			next
		}
		/^panic:/ { p = 20 }
		p > 0 { print; p--; next }
		/^ +[^ ]+_test\.go:[0-9]+:/ && cur != "" { msg[cur, n[cur] % 4] = $0; n[cur]++ }
	' "$console" | head -n 20 | sed "s/^/vmtest: [$series] failed: /"
}

main() {
	parse_args "$@"
	cd "$(dirname "$0")/.."
	local out=${DROPTRACE_VM_OUT:-}
	[[ -n $out ]] || out=$(mktemp -d /tmp/droptrace-vmtest.XXXXXX)
	mkdir -p "$out" "$cache"
	workdir=$out
	# Only the logs are worth keeping.
	trap 'rm -f "$workdir"/initrd-*.gz' EXIT

	ensure_packages

	local -A vmlinuz=() image=()
	declare -gA moddir=()
	local series t0 t
	t0=$SECONDS
	for series in $kernels; do
		t=$SECONDS
		image[$series]=$(resolve_image "$series")
		vmlinuz[$series]=$(fetch_kernel "${image[$series]}" "$(arch_of "$series")")
		moddir[$series]=$(fetch_modules "${image[$series]}")
		log "kernel $series: ${image[$series]} ready in $((SECONDS - t)) s"
	done
	log "kernels ready in $((SECONDS - t0)) s (cache $cache)"

	local arch
	for arch in $(for series in $kernels; do arch_of "$series"; done | sort -u); do
		t0=$SECONDS
		build_initramfs "$out/initrd-$arch.gz" "$arch"
		log "built $pkg and initramfs for $arch in $((SECONDS - t0)) s ($(du -h "$out/initrd-$arch.gz" | cut -f1))"
	done

	local summary=() failed=0 why rc
	for series in $kernels; do
		local console="$out/console-$series.log"
		log "booting ${image[$series]}"
		t=$SECONDS
		rc=0
		arch=$(arch_of "$series")
		boot "${vmlinuz[$series]}" "$out/initrd-$arch.gz" "$console" "$series" "$arch" || rc=$?
		why=$(verdict "$console")
		[[ -z $why && $rc != 0 ]] && why="qemu exited with status $rc"
		if [[ -z $why ]]; then
			summary+=("$(printf '%-10s %-32s PASS %4d s' "$series" "${image[$series]}" $((SECONDS - t)))")
		else
			failed=1
			summary+=("$(printf '%-10s %-32s FAIL %4d s  %s' "$series" "${image[$series]}" $((SECONDS - t)) "$why")")
		fi
	done

	log "console logs in $out"
	# CI keeps only the tail of the output: repeat what failed here.
	for series in $kernels; do
		failures "$out/console-$series.log" "$series"
	done
	printf 'vmtest: %s\n' "${summary[@]}"
	return "$failed"
}

main "$@"
