// Package attach discovers the kernel functions and tracepoints that
// receive an skb (from BTF), probes which attach backend works on the
// running kernel (kprobe-multi, kprobe, fentry, tracepoint) and attaches
// path-tracing programs to many targets in parallel. It gives each probe
// its role (roles.go): where a path may start, where it is only followed,
// where the skb may already be freed, where its memory is freed.
//
// It must not decide what programs do or decode events: the path tracer
// loads the programs and hands them here to attach.
package attach
