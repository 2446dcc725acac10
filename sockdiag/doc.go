// Package sockdiag looks sockets up through netlink sock_diag
// (INET_DIAG) in the network namespace an event came from, as `ss -ti`
// would show them, with one netlink socket per namespace kept while in use.
//
// It must not be called on the ring-buffer reader's path: look-ups take
// a system call and a dump each; callers run them from annotators.
package sockdiag
