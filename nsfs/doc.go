// Package nsfs finds network namespaces by the inode the kernel reports
// for them (struct net's ns.inum, the inode of an nsfs file): it scans
// /run/netns and /proc/*/ns/net for a file that opens each one, so
// annotators can query a namespace an event came from.
//
// It must not enter namespaces on behalf of the whole process, or keep
// files open that its caller did not ask it to hold.
package nsfs
