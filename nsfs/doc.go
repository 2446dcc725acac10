// Package nsfs finds network namespaces by the inode the kernel reports
// for them (struct net's ns.inum, the inode of an nsfs file): it scans
// /run/netns and /proc/*/ns/net for a file that opens each one, so
// annotators can query a namespace an event came from. Hold keeps one
// namespace open (so its inode is not reused) and watches its file;
// LinkAnywhere looks an interface name up in every namespace; Do runs a
// function on a thread of its own inside one.
//
// It must not enter namespaces on behalf of the whole process, or keep
// files open that its caller did not ask it to hold.
package nsfs
