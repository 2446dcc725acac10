// Package session runs one droptrace mode from attach to exit: it reads
// events from a Source (the drop, TCP or path tracer), passes them through
// an optional Stage (an annotator that looks things up off the reader's
// path), writes them to the outputs, and says at exit what was reported,
// matched and lost. Summary mode prints the kernel's counts per interval.
//
// It must not parse flags, load BPF objects or format events: cmd wires
// the tracer, annotators and outputs, and this package moves events
// between them and counts them.
package session
