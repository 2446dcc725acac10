package tracer

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// errDrained ends a drain: the reader reached the producer's position it
// took at Begin, or a record still being written.
var errDrained = errors.New("ring drained")

// The kernel's ring record header (BPF_RINGBUF_HDR_SZ and its flags in
// include/uapi/linux/bpf.h): the length with two flag bits, then 4 bytes
// the reader does not use. Records are padded to 8 bytes.
const (
	ringHdrSize    = 8
	ringBusyBit    = 1 << 31
	ringDiscardBit = 1 << 30
	ringLenMask    = ringDiscardBit - 1
	ringAlign      = 8
)

// mmapRing reads an event ring buffer through its own mapping of the
// map's pages, as ringbuf.Reader does, with two differences. Records are
// not copied: Next returns them where the program wrote them, and the
// ring keeps them until Release. And the positions the programs use at
// every record are touched once a drain, not once a record: the
// producer's position is loaded at Begin and the consumer's stored at
// Release. It does not wait for records: the read loop polls, and the
// wake ring (wake.h) wakes it.
type mmapRing struct {
	readCursor
	cons, prod []byte  // the mappings
	prodPos    *uint64 // the producer's position
	data       []byte  // the ring's pages, mapped twice in a row
	mask       uint64
}

// readCursor is where a reader of a mapped ring is, and the consumer's
// position it gives the programs, which it stores once a drain.
type readCursor struct {
	consPos  *uint64 // the consumer's position, in the mapping: ours to write
	pos      uint64  // the next record to read
	end      uint64  // the producer's position at Begin
	released uint64  // the consumer's position as last stored
}

// start puts the cursor at the consumer's position cons.
func (c *readCursor) start(cons *uint64) {
	c.consPos = cons
	c.pos = atomic.LoadUint64(cons)
	c.end, c.released = c.pos, c.pos
}

// Cursor is the position after the last record read.
func (c *readCursor) Cursor() uint64 { return c.pos }

// Release lets the programs write over the ring up to pos.
func (c *readCursor) Release(pos uint64) {
	if pos > c.released {
		atomic.StoreUint64(c.consPos, pos)
		c.released = pos
	}
}

// newMmapRing maps the ring buffer map m.
func newMmapRing(m *ebpf.Map) (*mmapRing, error) {
	if m.Type() != ebpf.RingBuf {
		return nil, fmt.Errorf("map %v is not a ring buffer", m)
	}
	size := int(m.MaxEntries())
	page := os.Getpagesize()
	cons, err := unix.Mmap(m.FD(), 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping the ring's consumer page: %w", err)
	}
	// The producer's page, then the data pages twice, so that a record
	// that wraps around the end reads as one slice.
	prod, err := unix.Mmap(m.FD(), int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		unix.Munmap(cons)
		return nil, fmt.Errorf("mapping the ring's data pages: %w", err)
	}
	r := &mmapRing{
		cons:    cons,
		prod:    prod,
		prodPos: (*uint64)(unsafe.Pointer(&prod[0])),
		data:    prod[page:],
		mask:    uint64(size - 1),
	}
	r.start((*uint64)(unsafe.Pointer(&cons[0])))
	return r, nil
}

// AvailableBytes is what the ring holds that was not read.
func (r *mmapRing) AvailableBytes() int {
	return int(atomic.LoadUint64(r.prodPos) - r.pos)
}

// BufferSize is the ring's size in bytes.
func (r *mmapRing) BufferSize() int { return int(r.mask + 1) }

// Begin starts a drain: Next returns what the producer had written by
// now.
func (r *mmapRing) Begin() { r.end = atomic.LoadUint64(r.prodPos) }

// Next returns the next record, valid until Release passes end, or
// errDrained.
func (r *mmapRing) Next() (raw []byte, end uint64, err error) {
	for r.pos < r.end {
		// An atomic load of the header orders it before the record's
		// bytes: the kernel clears the busy bit (an xchg) after them.
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[r.pos&r.mask])))
		if hdr&ringBusyBit != 0 {
			return nil, 0, errDrained // not committed yet: the next drain reads it
		}
		n := uint64(hdr & ringLenMask)
		start := (r.pos + ringHdrSize) & r.mask
		next := r.pos + ringHdrSize + (n+ringAlign-1)&^(ringAlign-1)
		if next > r.end {
			return nil, 0, fmt.Errorf("record of %d bytes at %d passes the producer's position %d", n, r.pos, r.end)
		}
		r.pos = next
		if hdr&ringDiscardBit != 0 {
			continue
		}
		return r.data[start : start+n : start+n], next, nil
	}
	return nil, 0, errDrained
}

// Close unmaps the ring.
func (r *mmapRing) Close() error {
	if r.cons == nil {
		return nil
	}
	err := unmap(r.prod, r.cons)
	r.cons, r.prod, r.data = nil, nil, nil
	return err
}

// unmap unmaps each mapping.
func unmap(mappings ...[]byte) error {
	var errs []error
	for _, m := range mappings {
		errs = append(errs, unix.Munmap(m))
	}
	return errors.Join(errs...)
}
