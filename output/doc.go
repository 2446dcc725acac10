// Package output turns decoded kernel events into what the user asked to
// see: aligned text lines for a terminal, JSON lines for other programs, and
// pcapng files for tcpdump and Wireshark. Summaries and metrics will live
// here too.
//
// Every Writer is streaming: an event is written as soon as it arrives, so
// a run that is interrupted or killed still leaves everything it saw.
//
// This package must not load BPF objects, read kernel memory or look up
// anything on the system (names, namespaces, symbols): the decoder fills
// Event completely, and this package only formats it.
package output
