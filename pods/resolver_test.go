package pods

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/droptrace/droptrace/event"
	"github.com/droptrace/droptrace/pods/podtest"
)

// fakeSystem lays out a /proc, /run/netns and containers/storage under a
// temporary directory: processes are symlinks "net:[INODE]", as the
// kernel shows them.
type fakeSystem struct {
	t     *testing.T
	paths Paths
}

func newFakeSystem(t *testing.T) *fakeSystem {
	dir := t.TempDir()
	p := Paths{Proc: filepath.Join(dir, "proc"), RunNetns: filepath.Join(dir, "netns"),
		Storage: filepath.Join(dir, "storage"), StorageRun: filepath.Join(dir, "run"), Docker: filepath.Join(dir, "docker")}
	for _, d := range []string{p.Proc, p.RunNetns} {
		os.MkdirAll(d, 0o755)
	}
	return &fakeSystem{t: t, paths: p}
}

func (f *fakeSystem) process(pid int, netns uint32, cgroup string) {
	dir := filepath.Join(f.paths.Proc, strconv.Itoa(pid))
	os.MkdirAll(filepath.Join(dir, "ns"), 0o755)
	if err := os.Symlink("net:["+strconv.FormatUint(uint64(netns), 10)+"]", filepath.Join(dir, "ns", "net")); err != nil {
		f.t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cgroup), 0o644)
}

func (f *fakeSystem) write(path, data string) {
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func newFakeResolver(t *testing.T, f *fakeSystem) *Resolver {
	t.Helper()
	r, err := New(context.Background(), Options{CRIEndpoint: "none", Paths: f.paths, Interval: time.Hour, MinMissRefresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestLocalNames covers the names found without a CRI runtime: podman's
// state files, docker's, a cgroup path, and none for the host.
func TestLocalNames(t *testing.T) {
	f := newFakeSystem(t)
	f.process(1, 100, "0::/init.scope\n")
	f.process(2, 100, "0::/init.scope\n")
	f.process(50, 200, "0::/libpod_parent/libpod-abc\n")
	f.process(60, 300, "1:name=systemd:/system.slice/docker-def.scope\n2:cpu:/other\n")
	f.write(filepath.Join(f.paths.RunNetns, "blue"), "") // its inode stands for the namespace's
	blue := netnsInode(filepath.Join(f.paths.RunNetns, "blue"))
	f.process(80, blue, "0::/user.slice/session-4.scope\n") // ip netns exec blue ...
	f.process(70, 400, "0::/user.slice/session-3.scope\n")
	f.process(71, 400, "0::/user.slice/session-3.scope/child\n")
	f.write(filepath.Join(f.paths.Storage, "overlay-containers", "containers.json"),
		`[{"id":"abc","names":["web"]},{"id":"stopped","names":["old"]}]`)
	f.write(filepath.Join(f.paths.StorageRun, "overlay-containers", "abc", "userdata", "pidfile"), "50\n")
	f.write(filepath.Join(f.paths.Docker, "containers", "def", "config.v2.json"), `{"Name":"/db","State":{"Pid":60}}`)
	r := newFakeResolver(t, f)
	tests := []struct {
		netns uint32
		want  *event.Pod
	}{
		{100, nil}, // the host: no name
		{200, &event.Pod{Container: "web"}},
		{300, &event.Pod{Container: "db"}},
		{400, &event.Pod{Container: "/user.slice/session-3.scope"}}, // the lowest pid's cgroup
		{blue, &event.Pod{NetnsName: "blue"}},                       // no cgroup path beside a name
	}
	for _, tt := range tests {
		ev := &event.Event{Netns: tt.netns}
		r.Annotate(ev)
		if (ev.Pod == nil) != (tt.want == nil) || (ev.Pod != nil && *ev.Pod != *tt.want) {
			t.Errorf("netns %d: got %+v, want %+v", tt.netns, ev.Pod, tt.want)
		}
	}
	if s := r.Stats(); s.Named != 4 || s.Unnamed != 1 || s.Misses != 0 || s.Refreshes != 1 {
		t.Errorf("stats %+v, want 4 named, 1 unnamed, no miss, 1 refresh", s)
	}
}

// TestMissRefreshes checks that an unknown namespace asks for one rebuild
// per MinMissRefresh, not one per event, and that the rebuild names it.
func TestMissRefreshes(t *testing.T) {
	f := newFakeSystem(t)
	f.process(1, 100, "0::/init.scope\n")
	r, err := New(context.Background(), Options{CRIEndpoint: "none", Paths: f.paths, Interval: time.Hour, MinMissRefresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f.process(9, 900, "0::/machine.slice/vm.scope\n")
	for range 1000 {
		r.Annotate(&event.Event{Netns: 900})
	}
	// The rebuild may name the namespace before the loop ends.
	if s := r.Stats(); s.Misses == 0 || s.Misses+s.Named != 1000 || s.MissRefreshes != 1 {
		t.Errorf("after 1000 events in an unknown namespace: %+v, want 1 rebuild asked", s)
	}
	podtest.WaitFor(t, "the rebuild a miss asked for", 5*time.Second, func() bool { return r.Lookup(900) != nil })
	if p := r.Lookup(900); p.Container != "/machine.slice/vm.scope" {
		t.Errorf("after the rebuild: %+v", p)
	}
}

// TestFollowAndResolve checks that Resolve finds a pod's namespace and
// that Follow reports it again only when it changes.
func TestFollowAndResolve(t *testing.T) {
	f := newFakeSystem(t)
	f.process(1, 100, "")
	r := newFakeResolver(t, f)
	if _, err := r.Resolve(context.Background(), "shop/web"); !errors.Is(err, ErrPodNotFound) {
		t.Errorf("Resolve of a missing pod: %v, want ErrPodNotFound", err)
	}
	if _, err := r.Resolve(context.Background(), "web"); err == nil {
		t.Error("Resolve of a ref without a namespace: no error")
	}
	inodes, stop := r.Follow("shop/web")
	defer stop()
	for i, ino := range []uint32{0, 500, 500, 0, 600} {
		r.mu.Lock()
		r.keep.pods = nil
		if ino != 0 {
			r.keep.pods = []podNetns{{ino: ino, name: "web", namespace: "shop", ctr: "app"}}
		}
		r.mu.Unlock()
		if i > 0 {
			r.refresh(context.Background())
		}
		if i == 2 {
			select {
			case got := <-inodes:
				t.Errorf("step %d: Follow sent %d with no change", i, got)
			default:
			}
			continue
		}
		if got := <-inodes; got != ino {
			t.Errorf("step %d: Follow sent %d, want %d", i, got, ino)
		}
	}
	if got, err := r.Resolve(context.Background(), "shop/web"); err != nil || got != 600 {
		t.Errorf("Resolve = %d, %v; want 600", got, err)
	}
	if p := r.Lookup(600); p == nil || p.Ref() != "shop/web" || p.Container != "app" {
		t.Errorf("Lookup(600) = %+v", p)
	}
}

func TestParsePodRef(t *testing.T) {
	for _, ref := range []string{"", "web", "/web", "shop/", "a/b/c"} {
		if _, _, err := ParsePodRef(ref); err == nil {
			t.Errorf("ParsePodRef(%q): no error", ref)
		}
	}
	if ns, name, err := ParsePodRef("shop/web"); err != nil || ns != "shop" || name != "web" {
		t.Errorf("ParsePodRef(shop/web) = %q, %q, %v", ns, name, err)
	}
}

func TestVerboseInfoNetns(t *testing.T) {
	var v verboseInfo
	if got := v.netnsPaths("/proc"); len(got) != 0 {
		t.Errorf("empty info: %q", got)
	}
	v.RuntimeSpec.Linux.Namespaces = append(v.RuntimeSpec.Linux.Namespaces,
		struct {
			Type string `json:"type"`
			Path string `json:"path"`
		}{"network", "/var/run/netns/cni-1"})
	v.Pid = 42
	if got := v.netnsPaths("/proc"); !slices.Equal(got, []string{"/run/netns/cni-1", "/proc/42/ns/net"}) {
		t.Errorf("paths: %q", got)
	}
}
