// Package tcpinfo annotates events that belong to a TCP connection
// (retransmits, resets, drops of the connection's packets) with the
// connection's tcp_info, read through sock_diag in the connection's own
// network namespace.
//
// It is a pipeline stage between the ring buffer reader and the writers,
// and it must never hold the reader up while it waits for a look-up:
// look-ups run on a few workers fed by a bounded queue, at most one per
// flow per interval, and an event whose look-up is refused (queue full)
// or late goes out without tcp_info, counted. Events leave in the order
// they arrived; each waits at most Config.Wait for its annotation.
//
// It must not format output or parse flags.
package tcpinfo
