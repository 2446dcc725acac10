// Package bpf holds droptrace's BPF C sources and the Go bindings bpf2go
// generates from them. The generated files are committed, so building
// droptrace needs no clang; `make generate` reproduces them.
package bpf

//go:generate go tool bpf2go -cc $BPF_CLANG -strip $BPF_STRIP -cflags $BPF_CFLAGS -type event -type stat_index -type event_kind -type link_kind -type summary_key -type dev_key -target bpfel Drop drop.c -- -I/usr/include/x86_64-linux-gnu
//go:generate go tool bpf2go -cc $BPF_CLANG -strip $BPF_STRIP -cflags $BPF_CFLAGS -type path_event -target bpfel Trace trace.c -- -I/usr/include/x86_64-linux-gnu
//go:generate go tool bpf2go -cc $BPF_CLANG -strip $BPF_STRIP -cflags $BPF_CFLAGS -target bpfel Tcp tcp.c -- -I/usr/include/x86_64-linux-gnu
