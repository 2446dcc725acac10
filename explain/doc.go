// Package explain says why each drop happened: a cause in plain words, the
// evidence read live from the system for the drop at hand (sockets,
// routes, neighbours, qdiscs, sysctls of the drop's own network
// namespace), and a fix (--explain). It also describes every drop reason
// (--list-reasons), decides which frees are routine rather than packet
// loss (hidden by default), and parses --exclude-reason.
//
// It runs off the event path, in the annotation worker: look-ups are
// bounded per key per interval and by a budget per second, and what it
// skips is counted. It must not shell out (ss, ip, tc, sysctl), change
// anything on the system, enter a namespace with more than the calling
// thread, or import output formatting.
package explain
