package deploy

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestImage builds the image from Dockerfile with podman, as the
// Dockerfile's comment says, and runs droptrace --version in it.
func TestImage(t *testing.T) {
	if os.Geteuid() != 0 {
		unavailable(t, "needs root for podman")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		unavailable(t, "podman not installed (apt-get install -y podman): %v", err)
	}
	dist := t.TempDir()
	data, err := os.ReadFile(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dist, "droptrace-linux-"+runtime.GOARCH), data, 0o755); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	tag := "localhost/droptrace-test:" + hex.EncodeToString(b)
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", tag).Run() })
	podman(t, "build", "--platform", "linux/"+runtime.GOARCH, "-f", filepath.Join(cwd(t), "Dockerfile"), "-t", tag, dist)
	// Limits no higher than the test's own: raising them needs
	// CAP_SYS_RESOURCE, which a container running the test may lack.
	out := podman(t, "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", tag, "--version")
	if !strings.HasPrefix(out, "droptrace ") {
		t.Errorf("droptrace --version in the image printed %q, want droptrace <version>", out)
	}
	t.Logf("image %s: %s", tag, strings.TrimSpace(out))
}

func podman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("podman", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func cwd(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// unavailable skips a test that cannot run here, loudly, and fails it
// under CI=true.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf("SKIPPED: "+format, args...)
}
