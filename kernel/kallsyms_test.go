package kernel

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

const kallsymsTestdata = "../testdata/kallsyms.txt"

func loadTestSymbols(t testing.TB) *Symbols {
	t.Helper()
	f, err := os.Open(kallsymsTestdata)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseKallsyms(f)
	if err != nil {
		t.Fatalf("parsing %s: %v", kallsymsTestdata, err)
	}
	return s
}

func TestSymbolize(t *testing.T) {
	s := loadTestSymbols(t)
	tests := []struct {
		addr uint64
		want string
	}{
		{0xffffffff81000000, "_stext+0x0"}, // first of three aliases
		{0xffffffff81000010, "_stext+0x10"},
		{0xffffffff81000ff4, "__pfx_do_one_initcall+0x4"},
		{0xffffffff81001004, "do_one_initcall+0x4"},
		{0xffffffff81001210, "do_one_initcall+0x210"}, // D symbol ignored
		{0xffffffff81001310, "do_one_initcall+0x310"}, // r symbol ignored
		{0xffffffff81002008, "weak_default_func+0x8"},
		{0xffffffff81004010, "tcp_v4_rcv+0x10"},
		{0xffffffff81005001, "dup_static+0x1"},
		{0xffffffff81006abc, "listed_out_of_order+0xabc"},
		{0xffffffff81007150, "listed_out_of_order+0x1150"}, // past the last core symbol, close
		{0xffffffff82000150, "0xffffffff82000150"},         // far past it: code loaded later (a BPF program)
		{0xffffffffc0a004f0, "nft_do_chain+0x4f0 [nf_tables]"},
		{0xffffffffc0a00810, "nft_do_chain_ipv4+0x10 [nf_tables]"},
		{0xffffffffc0a01010, "nft_do_chain_ipv4+0x810 [nf_tables]"},
		{0xffffffffc0b00000, "veth_xmit+0x0 [veth]"},
		{0xffffffffc0b00104, "veth_weak+0x4 [veth]"},
		{0xffffffff80000000, "0xffffffff80000000"},
		{0, "0x0"},
	}
	for _, tt := range tests {
		// Twice: the second answer comes from the cache.
		for range 2 {
			if got := s.Symbolize(tt.addr); got != tt.want {
				t.Errorf("Symbolize(0x%x) = %q, want %q", tt.addr, got, tt.want)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	s := loadTestSymbols(t)
	tests := []struct {
		name   string
		want   uint64
		wantOK bool
	}{
		{"tcp_v4_rcv", 0xffffffff81004000, true},
		{"_text", 0xffffffff81000000, true},
		{"nft_do_chain_alias", 0xffffffffc0a00800, true},
		{"dup_static", 0xffffffff81003000, true}, // lowest of two
		{"weak_default_func", 0xffffffff81002000, true},
		{"veth_weak", 0xffffffffc0b00100, true},
		{"init_data_between_functions", 0, false},
		{"fixed_percpu_data", 0, false},
		{"nft_chain_data", 0, false},
		{"big_bss", 0, false},
		{"rodata_string", 0, false},
		{"nf_tables", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := s.Lookup(tt.name)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Lookup(%q) = 0x%x, %v, want 0x%x, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
		if has := s.Has(tt.name); has != tt.wantOK {
			t.Errorf("Has(%q) = %v, want %v", tt.name, has, tt.wantOK)
		}
	}
}

func TestParseKallsymsErrors(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		hidden bool // want ErrAddressesHidden
	}{
		{"empty", "", false},
		{"only data", "ffffffff82000000 D x\nffffffff82000100 b y\n", false},
		{"all zero", "0000000000000000 T _stext\n0000000000000000 t nft_do_chain\t[nf_tables]\n", true},
		{"bad address", "zzzzffff81000000 T foo\n", false},
		{"no type", "ffffffff81000000\n", false},
		{"no name", "ffffffff81000000 T \n", false},
	}
	for _, tt := range tests {
		_, err := ParseKallsyms(strings.NewReader(tt.input))
		if err == nil {
			t.Errorf("%s: ParseKallsyms succeeded", tt.name)
			continue
		}
		if got := errors.Is(err, ErrAddressesHidden); got != tt.hidden {
			t.Errorf("%s: errors.Is(%v, ErrAddressesHidden) = %v, want %v", tt.name, err, got, tt.hidden)
		}
	}
}

func TestSymbolizeCacheBounded(t *testing.T) {
	s := loadTestSymbols(t)
	for i := range uint64(symbolCacheSize + 100) {
		s.Symbolize(0xffffffff81004000 + i)
	}
	if got := len(s.cache); got > symbolCacheSize {
		t.Errorf("cache holds %d entries, want at most %d", got, symbolCacheSize)
	}
	if got, want := s.Symbolize(0xffffffff81004010), "tcp_v4_rcv+0x10"; got != want {
		t.Errorf("after eviction Symbolize = %q, want %q", got, want)
	}
}

// liveAddr finds a symbol's address in /proc/kallsyms with plain string
// splitting, as an oracle independent of ParseKallsyms.
func liveAddr(t *testing.T, name string) uint64 {
	t.Helper()
	raw, err := os.ReadFile(kallsymsPath)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[2] == name && strings.ContainsAny(f[1], "tT") {
			addr, err := strconv.ParseUint(f[0], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return addr
		}
	}
	t.Fatalf("%s not in %s", name, kallsymsPath)
	return 0
}

func TestKallsymsLive(t *testing.T) {
	requireLive(t, kallsymsPath, true)
	s, err := LoadKallsyms()
	if err != nil {
		t.Fatal(err)
	}
	addr := liveAddr(t, "tcp_v4_rcv")
	if got, want := s.Symbolize(addr+0x10), "tcp_v4_rcv+0x10"; got != want {
		t.Errorf("Symbolize(tcp_v4_rcv+0x10) = %q, want %q", got, want)
	}
	if got, ok := s.Lookup("tcp_v4_rcv"); !ok || got != addr {
		t.Errorf("Lookup(tcp_v4_rcv) = 0x%x, %v, want 0x%x, true", got, ok, addr)
	}
}

// benchSymbols uses the live kallsyms when readable, for a realistic symbol
// count, and the test file otherwise.
func benchSymbols(b *testing.B) (*Symbols, uint64) {
	if s, err := LoadKallsyms(); err == nil {
		if addr, ok := s.Lookup("tcp_v4_rcv"); ok {
			return s, addr
		}
	}
	return loadTestSymbols(b), 0xffffffff81004000
}

func BenchmarkSymbolize(b *testing.B) {
	s, addr := benchSymbols(b)
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			s.Symbolize(addr + 0x10)
		}
	})
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			s.symbolize(addr + 0x10)
		}
	})
}

func BenchmarkParseKallsyms(b *testing.B) {
	raw, err := os.ReadFile(kallsymsPath)
	if err != nil {
		b.Skipf("SKIPPING: %v", err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := ParseKallsyms(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
	}
}
