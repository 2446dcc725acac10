// Package event is droptrace's event model: what the kernel programs
// reported, once decoded, and what the annotators add to it. Producers
// (tracer, tcpinfo) fill these types; consumers (output, metrics, the
// run loops) read them.
//
// This package is a leaf: it must not import another droptrace package,
// load BPF objects, look anything up on the system or format output
// beyond the names of its own values (Kind, TCP states, reason text).
package event
