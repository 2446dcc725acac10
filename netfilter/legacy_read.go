package netfilter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
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

// readLegacy reads the namespace's iptables-legacy and ip6tables-legacy
// tables, on a thread of its own moved into the namespace, which then
// exits. Only the tables the namespace has (/proc/net/ip_tables_names)
// are asked for: asking for another would create it.
func (r *Reader) readLegacy() ([]*Table, error) {
	type result struct {
		dumps []legacyDump
		err   error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Setns(int(r.ns.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("entering netns: %w", err)}
			return
		}
		dumps, err := dumpLegacy()
		done <- result{dumps, err}
	}()
	res := <-done
	if res.err != nil {
		return nil, res.err
	}
	var tables []*Table
	for _, d := range res.dumps {
		t, err := parseLegacy(d)
		if err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, nil
}

// dumpLegacy dumps the x_tables tables of the calling thread's namespace.
func dumpLegacy() ([]legacyDump, error) {
	var dumps []legacyDump
	for _, fam := range []struct {
		family       nftables.TableFamily
		names        string
		domain, opts int
	}{
		{nftables.TableFamilyIPv4, "ip_tables_names", unix.AF_INET, unix.SOL_IP},
		{nftables.TableFamilyIPv6, "ip6_tables_names", unix.AF_INET6, unix.SOL_IPV6},
	} {
		names, err := legacyNames("/proc/thread-self/net/" + fam.names)
		if err != nil || len(names) == 0 {
			continue // no x_tables in the kernel, or no table in the namespace
		}
		d, err := dumpFamily(fam.family, names, fam.domain, fam.opts)
		if err != nil {
			return nil, err
		}
		dumps = append(dumps, d...)
	}
	return dumps, nil
}

// legacyNames lists the tables read of those the namespace has.
func legacyNames(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	have := strings.Fields(string(b))
	var names []string
	for _, n := range legacyTables {
		for _, h := range have {
			if h == n {
				names = append(names, n)
			}
		}
	}
	return names, nil
}

func dumpFamily(fam nftables.TableFamily, names []string, domain, level int) ([]legacyDump, error) {
	fd, err := unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("opening raw socket for x_tables: %w", err)
	}
	defer unix.Close(fd)
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
