// Package bpf holds droptrace's BPF C sources and the Go bindings bpf2go
// generates from them. The generated files are committed, so building
// droptrace needs no clang; `make generate` reproduces them.
//
// Each object is built once per architecture droptrace supports
// (*_x86_bpfel and *_arm64_bpfel): bpf2go defines __TARGET_ARCH_x86 or
// __TARGET_ARCH_arm64, which bpf_tracing.h needs to read a kprobe's
// arguments from the right registers, and each build takes the <asm/*.h>
// of its architecture (Debian's linux-libc-dev and
// linux-libc-dev-arm64-cross).
package bpf

//go:generate go tool bpf2go -cc $BPF_CLANG -strip $BPF_STRIP -cflags $BPF_CFLAGS -type event -type stat_index -type event_kind -type link_kind -type reply_kind -type summary_key -type dev_key -type tcp_sample -type nft_rule_sample -type reader_state -target amd64 Drop drop.c -- -I/usr/include/x86_64-linux-gnu
//go:generate go tool bpf2go -cc $BPF_CLANG -strip $BPF_STRIP -cflags $BPF_CFLAGS -type event -type stat_index -type event_kind -type link_kind -type reply_kind -type summary_key -type dev_key -type tcp_sample -type nft_rule_sample -type reader_state -target arm64 Drop drop.c -- -I/usr/aarch64-linux-gnu/include
//go:generate go tool bpf2go -cc $BPF_CLANG -strip $BPF_STRIP -cflags "$BPF_CFLAGS -mcpu=v3" -type path_event -type ring_pos -target amd64 Trace trace.c -- -I/usr/include/x86_64-linux-gnu
//go:generate go tool bpf2go -cc $BPF_CLANG -strip $BPF_STRIP -cflags "$BPF_CFLAGS -mcpu=v3" -type path_event -type ring_pos -target arm64 Trace trace.c -- -I/usr/aarch64-linux-gnu/include
//go:generate go tool bpf2go -cc $BPF_CLANG -strip $BPF_STRIP -cflags $BPF_CFLAGS -target amd64 Tcp tcp.c -- -I/usr/include/x86_64-linux-gnu
//go:generate go tool bpf2go -cc $BPF_CLANG -strip $BPF_STRIP -cflags $BPF_CFLAGS -target arm64 Tcp tcp.c -- -I/usr/aarch64-linux-gnu/include
