package filter

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// requirePrivileged skips when the test cannot create namespaces, but in
// CI a skip would hide a broken setup, so there it fails instead.
func requirePrivileged(t *testing.T) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "needs root to create a network namespace"
	} else if _, err := exec.LookPath("ip"); err != nil {
		reason = "needs the ip command from iproute2"
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s", reason)
	}
	t.Skipf("SKIPPED: %s; run as root with iproute2 to cover named namespaces", reason)
}

// addNamedNetns creates a namespace with `ip netns add` and deletes it when
// the test ends, whether or not it passed.
func addNamedNetns(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("droptrace-test-%08x", rand.Uint32())
	t.Cleanup(func() {
		out, err := exec.Command("ip", "netns", "del", name).CombinedOutput()
		if _, statErr := os.Stat(filepath.Join(netnsRunDir, name)); err != nil && !errors.Is(statErr, os.ErrNotExist) {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	return name
}

func statInode(t *testing.T, path string) uint32 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return uint32(fi.Sys().(*syscall.Stat_t).Ino)
}

func TestNetnsInodeSelf(t *testing.T) {
	got, err := NetnsInode("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("NetnsInode(/proc/self/ns/net): %v", err)
	}
	if want := statInode(t, "/proc/self/ns/net"); got != want {
		t.Errorf("NetnsInode(/proc/self/ns/net) = %d, want %d", got, want)
	}
}

func TestNetnsInodeNumber(t *testing.T) {
	tests := []struct {
		arg     string
		want    uint32
		wantErr bool
	}{
		{"1", 1, false},
		{"4026531840", 4026531840, false},
		{"4294967295", 4294967295, false},
		{"0", 0, true},
		{"4294967296", 0, true},
		{"99999999999999999999", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := NetnsInode(tt.arg)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("NetnsInode(%q) = %d, %v; want %d, error %v", tt.arg, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNetnsInodeNotNetns(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "net")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{regular, "/proc/self/ns/mnt", "/proc/self/ns/uts", "/nonexistent/ns"} {
		if got, err := NetnsInode(path); err == nil {
			t.Errorf("NetnsInode(%q) = %d, nil; want an error", path, got)
		}
	}
}

func TestNetnsInodeNamed(t *testing.T) {
	requirePrivileged(t)
	name := addNamedNetns(t)
	path := filepath.Join(netnsRunDir, name)
	want := statInode(t, path)

	for _, arg := range []string{name, path} {
		got, err := NetnsInode(arg)
		if err != nil {
			t.Fatalf("NetnsInode(%q): %v", arg, err)
		}
		if got != want {
			t.Errorf("NetnsInode(%q) = %d, want %d", arg, got, want)
		}
	}
	if self := statInode(t, "/proc/self/ns/net"); want == self {
		t.Errorf("namespace %s has inode %d, same as the current namespace", name, want)
	}
}
