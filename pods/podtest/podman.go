package podtest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Podman is a podman container a test runs.
type Podman struct {
	Name      string
	NetnsPath string // /proc/PID/ns/net of its process
}

// StartPodman imports a rootfs holding the pause program as an image and
// runs it as a container with a network namespace of its own.
func StartPodman(t testing.TB, id string) Podman {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs.tar")
	if err := writeFile(rootfs, RootfsTar(t, map[string]string{"pause": BuildPause(t, dir)})); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("podman", "info").CombinedOutput(); err != nil {
		Unavailable(t, "podman cannot run here: %v\n%s", err, out)
	}
	image, name := "localhost/dtpods-pause:"+id, "dtpods-"+id
	Run(t, "podman", "import", "--change", `ENTRYPOINT ["/pause"]`, rootfs, image)
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
	WaitFor(t, "the podman container's pid", 20*time.Second, func() bool {
		out, err := exec.Command("podman", "inspect", "--format", "{{.State.Pid}}", name).Output()
		pid = strings.TrimSpace(string(out))
		return err == nil && pid != "" && pid != "0"
	})
	return Podman{Name: name, NetnsPath: fmt.Sprintf("/proc/%s/ns/net", pid)}
}
