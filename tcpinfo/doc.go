// Package tcpinfo annotates events that belong to a TCP connection
// (retransmits, resets, drops of the connection's packets) with what the
// kernel program could not read at the event (the socket's queues and
// delivery rate, and whether it still exists), read through sock_diag in
// the connection's own network namespace after the event. The socket's
// state at the event (RTT, RTO, retransmissions, cwnd...) comes with the
// event and is kept; for an event without it, the look-up's tcp_info is
// all there is.
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
