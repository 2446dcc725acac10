// Package tracer loads droptrace's BPF programs, specialised for the
// user's filters, attaches them to the kernel's drop tracepoint, and turns
// what they send through the ring buffer into output.Events.
//
// It must not parse flags or format output: it takes a filter.Spec and
// hands decoded events to a callback.
package tracer
