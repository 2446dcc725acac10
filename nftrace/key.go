package nftrace

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the table Enable creates, in its own namespace.
const TableName = "droptrace_nftrace"

// Key holds the nftables trace key on until Close.
type Key struct {
	netns int // the namespace's file descriptor
	conn  *nftables.Conn
	table *nftables.Table
}

// Enable creates a namespace and, in it, the rule that switches the key
// on.
func Enable() (*Key, error) {
	fd, err := newNetns()
	if err != nil {
		return nil, fmt.Errorf("creating a network namespace for the nftrace rule: %w", err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("opening nftables in its namespace: %w", err)
	}
	k := &Key{netns: fd, conn: c}
	k.table = c.AddTable(&nftables.Table{Name: TableName, Family: nftables.TableFamilyINet})
	chain := c.AddChain(&nftables.Chain{Name: "nftrace", Table: k.table})
	c.AddRule(&nftables.Rule{Table: k.table, Chain: chain, Exprs: []expr.Any{
		&expr.Immediate{Register: 1, Data: []byte{1}},
		&expr.Meta{Key: expr.MetaKeyNFTRACE, SourceRegister: true, Register: 1},
	}})
	if err := c.Flush(); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("adding the nftrace rule in its namespace: %w", err)
	}
	return k, nil
}

// Close deletes the table and lets the namespace go.
func (k *Key) Close() error {
	if k == nil {
		return nil
	}
	k.conn.DelTable(k.table)
	err := k.conn.Flush()
	if err != nil {
		err = fmt.Errorf("deleting the nftrace table (it goes with its namespace): %w", err)
	}
	return errors.Join(err, unix.Close(k.netns))
}

// newNetns returns a file descriptor of a new network namespace. The
// namespace is created by a locked OS thread, which returns to the
// process's namespace before it is unlocked; a thread that cannot return
// ends with its goroutine, still locked, so no goroutine runs in the new
// namespace.
func newNetns() (int, error) {
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		fd, back, err := unshareNetns()
		if back {
			runtime.UnlockOSThread()
		}
		done <- result{fd, err}
	}()
	r := <-done
	return r.fd, r.err
}

// unshareNetns moves the calling thread to a new namespace, opens it,
// and moves the thread back; back says whether it is back.
func unshareNetns() (fd int, back bool, err error) {
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, true, err
	}
	defer unix.Close(orig)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return -1, true, fmt.Errorf("unshare: %w", err)
	}
	fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if serr := unix.Setns(orig, unix.CLONE_NEWNET); serr != nil {
		if err == nil {
			unix.Close(fd)
		}
		return -1, false, fmt.Errorf("returning to the process's namespace: %w", serr)
	}
	if err != nil {
		return -1, true, err
	}
	return fd, true, nil
}
