package e2e

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// exitCode runs droptrace with args and returns its exit status and stderr.
func exitCode(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stdout.String(), stderr.String()
}

func TestBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		flag string // the flag the one-line error must name
	}{
		{[]string{"--filter-dst-ip", "10.0.0.300"}, "--filter-dst-ip"},
		{[]string{"--filter-src-ip", "1.2.3.4/33"}, "--filter-src-ip"},
		{[]string{"--filter-port", "70000"}, "--filter-port"},
		{[]string{"--filter-port", "0"}, "--filter-port"},
		{[]string{"--filter-proto", "sctp"}, "--filter-proto"},
		{[]string{"--tcp", "--filter-proto", "udp"}, "--filter-proto"},
		{[]string{"--tcp", "--filter-ifname", "eth0"}, "--filter-ifname"},
		{[]string{"--filter-reason", "NO_SUCH_REASON"}, "--filter-reason"},
		{[]string{"--filter-netns", "droptrace-no-such-ns"}, "--filter-netns"},
		{[]string{"--filter-ifname", "this-name-is-too-long"}, "--filter-ifname"},
		{[]string{"--output", "xml"}, "--output"},
		{[]string{"--output-snaplen", "0"}, "--output-snaplen"},
		{[]string{"--drop-hook", "kprobe"}, "--drop-hook"},
		{[]string{"--count", "-1"}, "--count"},
		{[]string{"--duration", "soon"}, "--duration"},
		{[]string{"--no-such-flag"}, "--no-such-flag"},
		{[]string{"--output-pcap", "-", "--output", "json"}, "--output-pcap"},
		{[]string{"--trace", "--summary"}, "--summary"},
		{[]string{"--trace", "--tcp"}, "--tcp"},
		{[]string{"--summary", "--tcp"}, "--tcp"},
		{[]string{"--tcp", "tcp", "port", "80"}, "--tcp"},
		{[]string{"--summary", "--interval", "0"}, "--interval"},
		{[]string{"--interval", "-1s"}, "--interval"},
		{[]string{"--summary", "--output-pcap", "x.pcapng"}, "--output-pcap"},
		{[]string{"--summary", "--count", "3"}, "--count"},
		{[]string{"--metrics-addr", "localhost"}, "--metrics-addr"},
		{[]string{"--metrics-addr", "127.0.0.1:99999"}, "--metrics-addr"},
		{[]string{"--metrics-addr", "no such host:80"}, "--metrics-addr"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := exitCode(t, tt.args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2; stderr %q", code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.flag) {
				t.Errorf("stderr %q: want one line naming %s", stderr, tt.flag)
			}
			if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "tracing drops") {
				t.Errorf("stderr %q: a panic, or it attached", stderr)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, stdout, _ := exitCode(t, "--help")
	if code != 0 || !strings.Contains(stdout, "--filter-dst-ip") || !strings.Contains(stdout, "--output-pcap") {
		t.Errorf("--help: exit %d, stdout %q", code, stdout)
	}
	code, stdout, _ = exitCode(t, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "droptrace ") {
		t.Errorf("--version: exit %d, stdout %q", code, stdout)
	}
}

func TestListReasons(t *testing.T) {
	code, stdout, stderr := exitCode(t, "--list-reasons")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// Each line: the reason's name, then what it means.
	described := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		name, desc, _ := strings.Cut(line, " ")
		described[name] = strings.TrimSpace(desc)
	}
	for _, r := range []string{"NETFILTER_DROP", "NO_SOCKET", "NOT_SPECIFIED"} {
		if described[r] == "" {
			t.Errorf("--list-reasons lacks %s, or its description", r)
		}
	}
	if !strings.HasPrefix(described["CONSUMED"], "not a drop") {
		t.Errorf("--list-reasons: CONSUMED is %q, want it said not to be a drop", described["CONSUMED"])
	}
}

// TestNotRoot runs droptrace without privileges: one clear line, exit 1.
func TestNotRoot(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatal("setpriv (util-linux) is missing")
	}
	bin := binary(t)
	// nobody must be able to reach the binary; a copy in a world-readable
	// directory guarantees it.
	dir, err := os.MkdirTemp("", "droptrace-nonroot")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	copyBin := dir + "/droptrace"
	if out, err := exec.Command("cp", bin, copyBin).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", copyBin, "--duration", "1s")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("as nobody: %v, want exit status 1\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "root") {
		t.Errorf("as nobody: %q, want one line that says root is needed", out)
	}
}
