package netfilter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unsafe"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/droptrace/droptrace/nsfs"
)

// x_tables socket options (IPT_SO_GET_* and IP6T_SO_GET_*, the same
// numbers) and the sizes of struct ipt_getinfo and the header of struct
// ipt_get_entries (ip6t_* alike on 64-bit kernels).
const (
	xtSoGetInfo       = 64
	xtSoGetEntries    = 65
	xtTableNameLen    = 32
	xtGetinfoSize     = 84
	xtGetEntriesHead  = 40
	xtGetEntriesTries = 3 // the table changed between GET_INFO and GET_ENTRIES: asked again
)

// legacyTables are the x_tables tables read: nat never drops, arp and
// bridge tables are other families.
var legacyTables = []string{"raw", "mangle", "filter", "security"}

// legacyDump is one x_tables table as the kernel gives it: the answer to
// GET_INFO (struct ipt_getinfo) and the entries of GET_ENTRIES.
type legacyDump struct {
	family  nftables.TableFamily
	info    []byte
	entries []byte
}

// legacyFamilies are the x_tables families read: the file listing the
// namespace's tables, and the socket that reads them.
var legacyFamilies = [2]struct {
	family       nftables.TableFamily
	names        string
	domain, opts int
}{
	{nftables.TableFamilyIPv4, "ip_tables_names", unix.AF_INET, unix.SOL_IP},
	{nftables.TableFamilyIPv6, "ip6_tables_names", unix.AF_INET6, unix.SOL_IPV6},
}

// legacyHandles are a namespace's x_tables handles, per family: its
// /proc/net/ip_tables_names (nil where the kernel has no x_tables), and a
// raw socket for getsockopt. Both stay bound to the namespace they were
// opened in, so they are opened once, by a thread that enters it.
type legacyHandles struct {
	names [2]*os.File
	socks [2]int
}

// openLegacy opens the handles of the calling thread's namespace.
func openLegacy() (*legacyHandles, error) {
	h := &legacyHandles{socks: [2]int{-1, -1}}
	for i, fam := range legacyFamilies {
		f, err := os.Open("/proc/thread-self/net/" + fam.names)
		if errors.Is(err, os.ErrNotExist) {
			continue // no x_tables for this family in the kernel
		}
		if err != nil {
			h.close()
			return nil, err
		}
		h.names[i] = f
		fd, err := unix.Socket(fam.domain, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		if err != nil {
			h.close()
			return nil, fmt.Errorf("opening raw socket for x_tables: %w", err)
		}
		h.socks[i] = fd
	}
	return h, nil
}

func (h *legacyHandles) close() {
	for i := range h.names {
		if h.names[i] != nil {
			h.names[i].Close()
		}
		if h.socks[i] >= 0 {
			unix.Close(h.socks[i])
		}
	}
}

// readLegacy reads the namespace's iptables-legacy and ip6tables-legacy
// tables. The first read opens the handles on a thread of its own moved
// into the namespace, which then exits.
func (r *Reader) readLegacy() ([]*Table, error) {
	if r.legacy == nil {
		h, err := r.inNamespace(openLegacy)
		if err != nil {
			return nil, err
		}
		r.legacy = h
	}
	dumps, err := r.legacy.dump()
	if err != nil {
		return nil, err
	}
	var tables []*Table
	for _, d := range dumps {
		t, err := parseLegacy(d)
		if err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, nil
}

// inNamespace runs open on a thread moved into the reader's namespace,
// which exits after.
func (r *Reader) inNamespace(open func() (*legacyHandles, error)) (*legacyHandles, error) {
	return nsfs.Do(r.ns, open)
}

// dump dumps the x_tables tables the namespace has. Only the tables its
// ip_tables_names lists are asked for: asking for another would create it.
func (h *legacyHandles) dump() ([]legacyDump, error) {
	var dumps []legacyDump
	for i, fam := range legacyFamilies {
		if h.names[i] == nil {
			continue
		}
		names, err := legacyNames(h.names[i])
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", fam.names, err)
		}
		d, err := dumpFamily(fam.family, names, h.socks[i], fam.opts)
		if err != nil {
			return nil, err
		}
		dumps = append(dumps, d...)
	}
	return dumps, nil
}

// legacyNames lists the tables read of those the namespace has, read
// again from the start of its open names file.
func legacyNames(f *os.File) ([]string, error) {
	b := make([]byte, 4096)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	have := strings.Fields(string(b[:n]))
	var names []string
	for _, n := range legacyTables {
		if slices.Contains(have, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// dumpFamily dumps the named tables of one family through its socket; a
// table gone since it was listed is left out.
func dumpFamily(fam nftables.TableFamily, names []string, fd, level int) ([]legacyDump, error) {
	var dumps []legacyDump
	for _, name := range names {
		info, entries, err := dumpTable(fd, level, name)
		if errors.Is(err, unix.ENOENT) {
			continue // gone since listed
		}
		if err != nil {
			return nil, fmt.Errorf("reading x_tables %s %s: %w", FamilyName(fam), name, err)
		}
		dumps = append(dumps, legacyDump{family: fam, info: info, entries: entries})
	}
	return dumps, nil
}

// dumpTable asks for the table's size and hooks (GET_INFO), then for its
// entries with their counters (GET_ENTRIES). Both only read.
func dumpTable(fd, level int, name string) (info, entries []byte, err error) {
	for range xtGetEntriesTries {
		info = make([]byte, xtGetinfoSize)
		copy(info, name)
		if err := getsockopt(fd, level, xtSoGetInfo, info); err != nil {
			return nil, nil, fmt.Errorf("GET_INFO: %w", err)
		}
		size := binary.NativeEndian.Uint32(info[80:])
		buf := make([]byte, xtGetEntriesHead+int(size))
		copy(buf, name)
		binary.NativeEndian.PutUint32(buf[xtTableNameLen:], size)
		err = getsockopt(fd, level, xtSoGetEntries, buf)
		if errors.Is(err, unix.EAGAIN) {
			continue // replaced between the two: ask again
		}
		if err != nil {
			return nil, nil, fmt.Errorf("GET_ENTRIES: %w", err)
		}
		return info, buf[xtGetEntriesHead:], nil
	}
	return nil, nil, fmt.Errorf("GET_ENTRIES: table replaced %d times while read: %w", xtGetEntriesTries, err)
}

// getsockopt fills buf with the option's value; the kernel wants its
// exact length.
func getsockopt(fd, level, opt int, buf []byte) error {
	n := uint32(len(buf))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}
