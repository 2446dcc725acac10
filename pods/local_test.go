package pods

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPodmanAndIPNetns names a podman container (its image imported from
// a local rootfs) and an 'ip netns' namespace, with no CRI runtime, from
// drops droptrace reports in each.
func TestPodmanAndIPNetns(t *testing.T) {
	requireRoot(t)
	requireTools(t, "podman", "ip", "nsenter")
	bin := droptraceBinary(t)
	id := randomID(t)
	ctr := startPodman(t, id)
	netnsName := "dtpods-" + id
	run(t, "ip", "netns", "add", netnsName)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", netnsName).Run() })
	run(t, "ip", "-n", netnsName, "link", "set", "lo", "up")

	res, err := New(context.Background(), Options{CRIEndpoint: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	for _, c := range []struct {
		path, netnsName, container string
	}{
		{ctr.netnsPath, "", ctr.name},
		{filepath.Join("/run/netns", netnsName), netnsName, ""},
	} {
		ino := netnsInode(c.path)
		tr := startDroptrace(t, bin, "--filter-netns", strconv.FormatUint(uint64(ino), 10))
		dropIn(t, c.path, 9003)
		ev := tr.waitDrop(t, 9003)
		res.Annotate(ev)
		if p := ev.Pod; p == nil || p.NetnsName != c.netnsName || p.Container != c.container || p.Name != "" {
			t.Errorf("drop in netns %d (%s): annotated %+v, want netns_name %q container %q", ino, c.path, p, c.netnsName, c.container)
		}
	}
}

type podmanContainer struct {
	name, netnsPath string
}

// startPodman imports a rootfs holding the pause program as an image and
// runs it as a container with a network namespace of its own.
func startPodman(t *testing.T, id string) podmanContainer {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs.tar")
	if err := writeFile(rootfs, rootfsTar(t, map[string]string{"pause": buildPause(t, dir)})); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("podman", "info").CombinedOutput(); err != nil {
		unavailable(t, "podman cannot run here: %v\n%s", err, out)
	}
	image, name := "localhost/dtpods-pause:"+id, "dtpods-"+id
	run(t, "podman", "import", "--change", `ENTRYPOINT ["/pause"]`, rootfs, image)
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", image).Run() })
	// Limits no higher than the test's own: raising them needs
	// CAP_SYS_RESOURCE, which a container running the test may lack.
	out, err := exec.Command("podman", "run", "-d", "--name", name, "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", image).CombinedOutput()
	t.Cleanup(func() { exec.Command("podman", "rm", "-f", "-t", "0", name).Run() })
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	var pid string
	waitFor(t, "the podman container's pid", 20*time.Second, func() bool {
		out, err := exec.Command("podman", "inspect", "--format", "{{.State.Pid}}", name).Output()
		pid = strings.TrimSpace(string(out))
		return err == nil && pid != "" && pid != "0"
	})
	return podmanContainer{name: name, netnsPath: fmt.Sprintf("/proc/%s/ns/net", pid)}
}
