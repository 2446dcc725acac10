// Package tracer loads droptrace's BPF programs, specialised for the
// user's filters, attaches them (the drop program to skb:kfree_skb, the
// TCP programs to the tcp tracepoints, path tracing through package
// attach) and turns what they send through the per-CPU ring buffers into
// event.Events, in time order. A pcap-filter expression in the Spec is
// compiled by pcapfilter and injected into the drop and trace objects'
// stubs before they load (pcap.go); the TCP events, most without a
// packet, refuse one.
//
// It must not parse flags or format output: it takes a filter.Spec and
// hands decoded events to a callback. Generated bpf.* types stay inside:
// no exported function takes or returns one.
package tracer
