// Package filter parses and validates the user's --filter-* flags into a
// Spec, which the BPF loader uses to specialise the tracing program before
// it is loaded, so that uninteresting drops are discarded in the kernel
// rather than copied to user space.
//
// Every problem with a flag is reported as an *Error naming that flag, so
// main can print it as one line and exit with the usage status. The
// positional pcap-filter expression is checked by compiling it
// (pcapfilter); a bad one is a *pcapfilter.Error, which points at the
// offending token with a caret line.
//
// This package must not load or touch BPF objects and must not print
// anything: it only turns strings into a Spec or an error. The one thing
// it reads from the system is the network namespace named by
// --filter-netns, because only the kernel knows that namespace's inode.
package filter
