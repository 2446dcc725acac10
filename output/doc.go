// Package output turns events of the event model into what the user
// asked to see: aligned text lines for a terminal, JSON lines for other
// programs, pcapng files for tcpdump and Wireshark, and summary tables.
// New picks a format by name for a mode; a new format is a file here plus
// a line in the formats table (format.go).
//
// Every Writer is streaming: an event is written as soon as it arrives, so
// a run that is interrupted or killed still leaves everything it saw.
//
// This package must not load BPF objects, read kernel memory or look up
// anything on the system (names, namespaces, symbols): the tracer and the
// annotators fill the event.Event completely, and this package only
// formats it. Only cmd/droptrace imports it.
package output
