// Package tracer loads droptrace's BPF programs, specialised for the
// user's filters, attaches them (the drop program to skb:kfree_skb, the
// TCP programs to the tcp tracepoints, path tracing through package
// attach) and turns what they send through the per-CPU ring buffers into
// event.Events, in time order.
//
// It must not parse flags or format output: it takes a filter.Spec and
// hands decoded events to a callback. Generated bpf.* types stay inside:
// no exported function takes or returns one.
package tracer
