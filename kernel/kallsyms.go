package kernel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
)

const kallsymsPath = "/proc/kallsyms"

// symbolCacheSize bounds Symbolize's cache. Drop locations are few, so the
// cache normally never fills; the bound only protects a caller that feeds
// it a stream of distinct addresses, such as stack traces.
const symbolCacheSize = 1 << 14

// ErrAddressesHidden means every address in kallsyms reads as zero: the
// kernel hides them because kernel.kptr_restrict is set or the reader is not
// root (more precisely, lacks CAP_SYSLOG).
var ErrAddressesHidden = errors.New("kallsyms addresses are all zero: kernel.kptr_restrict is set or not running as root")

// Symbols resolves kernel text addresses to function names. It holds only
// text symbols (kallsyms types t, T, w, W), sorted by address.
type Symbols struct {
	syms []symbol

	namesOnce sync.Once
	names     map[string]uint64 // built on first Lookup or Has

	mu    sync.Mutex
	cache map[uint64]string
}

type symbol struct {
	addr   uint64
	name   string
	module string // "" for the core kernel
}

// LoadKallsyms reads the kernel's text symbols from /proc/kallsyms.
func LoadKallsyms() (*Symbols, error) {
	f, err := os.Open(kallsymsPath)
	if err != nil {
		return nil, fmt.Errorf("opening kallsyms: %w", err)
	}
	defer f.Close()
	s, err := ParseKallsyms(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", kallsymsPath, err)
	}
	return s, nil
}

// StartKallsyms reads kallsyms in the background, while the caller does
// something else (reading BTF: both take seconds on a slow machine), and
// returns how to wait for the result.
func StartKallsyms() func() (*Symbols, error) {
	var (
		syms *Symbols
		err  error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		syms, err = LoadKallsyms()
	}()
	return func() (*Symbols, error) {
		<-done
		return syms, err
	}
}

// ParseKallsyms reads text symbols in /proc/kallsyms format. It returns
// ErrAddressesHidden when every address is zero, because symbolizing
// against zeros would silently name every location wrong.
func ParseKallsyms(r io.Reader) (*Symbols, error) {
	syms, err := parseSymbols(bufio.NewReaderSize(r, 1<<16))
	if err != nil {
		return nil, err
	}
	if len(syms) == 0 {
		return nil, errors.New("no text symbols")
	}
	if !slices.ContainsFunc(syms, func(s symbol) bool { return s.addr != 0 }) {
		return nil, ErrAddressesHidden
	}
	// kallsyms is mostly sorted already (modules follow the core kernel).
	// Stable, so that among symbols sharing an address the first listed
	// stays first.
	if !slices.IsSortedFunc(syms, compareAddr) {
		slices.SortStableFunc(syms, compareAddr)
	}
	return &Symbols{syms: syms, cache: make(map[uint64]string)}, nil
}

func compareAddr(a, b symbol) int {
	switch {
	case a.addr < b.addr:
		return -1
	case a.addr > b.addr:
		return 1
	}
	return 0
}

// parseSymbols reads lines with ReadSlice, which hands out the reader's own
// buffer, so a line costs no allocation beyond its name when it is a text
// symbol; module names are shared. A real kallsyms parses in about 30 ms.
func parseSymbols(br *bufio.Reader) ([]symbol, error) {
	syms := make([]symbol, 0, 1<<12)
	modules := make(map[string]string)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			sym, ok, perr := parseLine(line, modules)
			if perr != nil {
				return nil, fmt.Errorf("line %d: %w", n, perr)
			}
			if ok {
				syms = appendDoubling(syms, sym)
			}
		}
		if err == io.EOF {
			return syms, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
}

// appendDoubling doubles capacity when full, where append grows large
// slices by only about 1.25x: for ~100,000 symbols that saves most of the
// copying.
func appendDoubling(syms []symbol, sym symbol) []symbol {
	if len(syms) == cap(syms) {
		syms = slices.Grow(syms, len(syms))
	}
	return append(syms, sym)
}

// parseLine parses "ffffffff81fbd5d0 T nft_do_chain" or, for a module,
// "ffffffffc0a01000 t nft_do_chain\t[nf_tables]". ok is false for symbols
// that are not text.
func parseLine(line []byte, modules map[string]string) (sym symbol, ok bool, err error) {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	if len(line) == 0 {
		return symbol{}, false, nil
	}
	hex, rest, found := bytes.Cut(line, []byte{' '})
	if !found || len(rest) < 3 || rest[1] != ' ' {
		return symbol{}, false, fmt.Errorf("malformed kallsyms line %q", line)
	}
	if !isText(rest[0]) {
		return symbol{}, false, nil
	}
	addr, err := parseHex(hex)
	if err != nil {
		return symbol{}, false, err
	}
	name, module, _ := bytes.Cut(rest[2:], []byte{'\t'})
	if len(name) == 0 {
		return symbol{}, false, fmt.Errorf("malformed kallsyms line %q: no name", line)
	}
	return symbol{addr: addr, name: string(name), module: intern(modules, bytes.Trim(module, "[]"))}, true, nil
}

func isText(typ byte) bool {
	return typ == 't' || typ == 'T' || typ == 'w' || typ == 'W'
}

func parseHex(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 16 {
		return 0, fmt.Errorf("bad address %q", b)
	}
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | uint64(c-'A'+10)
		default:
			return 0, fmt.Errorf("bad address %q", b)
		}
	}
	return v, nil
}

// intern returns one shared string per module name; the map lookup with a
// converted []byte key does not allocate.
func intern(modules map[string]string, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := modules[string(b)]; ok {
		return s
	}
	s := string(b)
	modules[s] = s
	return s
}

// Symbolize returns "function+0xoff", with " [module]" for module symbols,
// or the bare address in hex when it lies below every symbol or further
// than maxSymbolSize past the nearest one: code loaded after kallsyms was
// read (BPF programs, trampolines) is not part of the function before it.
// The nearest lower symbol wins, so an address past the last function of
// a region is still named after that function. Safe for concurrent use.
func (s *Symbols) Symbolize(addr uint64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if str, ok := s.cache[addr]; ok {
		return str
	}
	if len(s.cache) >= symbolCacheSize {
		clear(s.cache)
	}
	str := s.symbolize(addr)
	s.cache[addr] = str
	return str
}

// maxSymbolSize bounds how far past a symbol an address is still named
// after it; the largest kernel functions are a few tens of KiB.
const maxSymbolSize = 1 << 20

func (s *Symbols) symbolize(addr uint64) string {
	i := sort.Search(len(s.syms), func(i int) bool { return s.syms[i].addr > addr })
	if i == 0 {
		return "0x" + strconv.FormatUint(addr, 16)
	}
	// Among aliases at one address, name the first one kallsyms lists.
	for i > 1 && s.syms[i-2].addr == s.syms[i-1].addr {
		i--
	}
	sym := s.syms[i-1]
	if addr-sym.addr > maxSymbolSize {
		return "0x" + strconv.FormatUint(addr, 16)
	}
	str := sym.name + "+0x" + strconv.FormatUint(addr-sym.addr, 16)
	if sym.module != "" {
		str += " [" + sym.module + "]"
	}
	return str
}

// Lookup returns the address of a text symbol. A name that several static
// functions share resolves to the lowest of their addresses.
func (s *Symbols) Lookup(name string) (uint64, bool) {
	s.namesOnce.Do(s.indexNames)
	addr, ok := s.names[name]
	return addr, ok
}

// Has reports whether a text symbol (a function) with this name exists.
func (s *Symbols) Has(name string) bool {
	_, ok := s.Lookup(name)
	return ok
}

// indexNames is deferred to the first Lookup because most runs only
// symbolize and would pay for a 100,000-entry map for nothing.
func (s *Symbols) indexNames() {
	s.names = make(map[string]uint64, len(s.syms))
	for _, sym := range s.syms {
		if _, ok := s.names[sym.name]; !ok {
			s.names[sym.name] = sym.addr
		}
	}
}
