package guest

import (
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// loadModules loads the kernel modules vmtest/run.sh put in the
// initramfs for this kernel (/lib/modules/<release>/*.ko: nf_tables and
// what the guest tests' rules use), each after those it depends on, hard
// (depends=) or soft (softdep=pre:, by alias); the guest has no modprobe.
// A module already loaded is fine.
func loadModules(t *testing.T) {
	t.Helper()
	dir := filepath.Join("/lib/modules", kernelRelease(t))
	files, err := filepath.Glob(filepath.Join(dir, "*.ko"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no modules in %s (vmtest/run.sh fetch_modules): %v", dir, err)
	}
	mods := map[string]modinfo{}
	alias := map[string]string{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".ko")
		mi, err := readModinfo(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		mods[name] = mi
		for _, a := range mi.aliases {
			alias[a] = name
		}
	}
	loaded := map[string]bool{}
	var load func(name string)
	load = func(name string) {
		if a, ok := alias[name]; ok {
			name = a
		}
		mi, ok := mods[name]
		if loaded[name] || !ok { // not shipped: built in
			return
		}
		loaded[name] = true
		for _, d := range append(mi.softPre, mi.depends...) {
			load(d)
		}
		if err := insmod(filepath.Join(dir, name+".ko")); err != nil {
			t.Fatalf("loading %s: %v", name, err)
		}
	}
	for name := range mods {
		load(name)
	}
}

// modinfo is what a module's .modinfo says of its dependencies and names.
type modinfo struct {
	depends, softPre, aliases []string
}

func readModinfo(path string) (modinfo, error) {
	var mi modinfo
	f, err := elf.Open(path)
	if err != nil {
		return mi, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return mi, errors.New("no .modinfo section")
	}
	b, err := sec.Data()
	if err != nil {
		return mi, err
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "depends":
			if v != "" {
				mi.depends = strings.Split(v, ",")
			}
		case "softdep":
			if pre, ok := strings.CutPrefix(v, "pre:"); ok {
				pre, _, _ = strings.Cut(pre, "post:")
				mi.softPre = append(mi.softPre, strings.Fields(pre)...)
			}
		case "alias":
			mi.aliases = append(mi.aliases, v)
		}
	}
	return mi, nil
}

func insmod(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}
