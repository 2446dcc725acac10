package podtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Containerd is a containerd the test started, with its CRI plugin and
// a CNI bridge of its own.
type Containerd struct {
	Dir   string // its state, config and logs
	Sock  string // its CRI (and containerd) socket
	Image string // the pause image, the pods' and containers' image
	RT    runtimeapi.RuntimeServiceClient

	// What a runtime that died would leave: the ids of the sandboxes and
	// containers made (their processes' cgroup paths hold them), and the
	// sandboxes' namespace files.
	ids, netns []string
}

// StartContainerd starts containerd under a temporary directory, imports
// a pause image built here, and cleans everything up when the test ends.
func StartContainerd(t testing.TB) *Containerd {
	t.Helper()
	RequireRoot(t)
	RequireTools(t, "containerd", "ctr", "runc", "containerd-shim-runc-v2", "/usr/lib/cni/bridge")
	id := RandomID(t)
	dir, err := os.MkdirTemp("/tmp", "dtpods-")
	if err != nil {
		t.Fatal(err)
	}
	r := &Containerd{Dir: dir, Sock: filepath.Join(dir, "c.sock"), Image: "docker.io/droptrace/pause:" + id}
	bridge := "dtp" + id
	t.Cleanup(func() {
		// Should removing the pods have failed: their processes, shims,
		// namespaces and mounts.
		killMatching(append([]string{r.Sock}, r.ids...)...)
		for _, p := range r.netns {
			removeNetns(p)
		}
		unmountUnder(t, dir)
		if l, err := netlink.LinkByName(bridge); err == nil {
			netlink.LinkDel(l)
		}
		os.RemoveAll(dir)
	})
	writeCNIConf(t, dir, id, bridge)
	WriteOCIImage(t, BuildPause(t, dir), r.Image, filepath.Join(dir, "pause.tar"))
	r.start(t)
	Run(t, "ctr", "--address", r.Sock, "-n", "k8s.io", "images", "import", filepath.Join(dir, "pause.tar"))
	return r
}

func writeCNIConf(t testing.TB, dir, id, bridge string) {
	t.Helper()
	b := id[0:2]
	conf := fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "dtpods-%s", "plugins": [{
  "type": "bridge", "bridge": %q, "isGateway": false, "ipMasq": false,
  "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": "10.251.%d.0/24"}]]}}]}`,
		id, bridge, filepath.Join(dir, "ipam"), hexByte(b))
	os.MkdirAll(filepath.Join(dir, "cni"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "cni", "10-dtpods.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

func hexByte(s string) int {
	var n int
	fmt.Sscanf(s, "%x", &n)
	return n
}

const containerdConfig = `version = 2
root = "%[1]s/root"
state = "%[1]s/state"
[grpc]
  address = "%[1]s/c.sock"
[ttrpc]
  address = "%[1]s/c.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "%[2]s"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "%[1]s/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
`

// start runs containerd and waits until its CRI API answers.
func (r *Containerd) start(t testing.TB) {
	t.Helper()
	conf := filepath.Join(r.Dir, "config.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(containerdConfig, r.Dir, r.Image)), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(r.Dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("containerd", "--config", conf)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		Unavailable(t, "starting containerd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	conn, err := grpc.NewClient("unix://"+r.Sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r.RT = runtimeapi.NewRuntimeServiceClient(conn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := r.RT.Status(ctx, &runtimeapi.StatusRequest{})
		cancel()
		if err == nil {
			return
		}
		select {
		case <-exited:
			logs, _ := os.ReadFile(log.Name())
			Unavailable(t, "containerd exited: %s", tail(string(logs), 2000))
		default:
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(log.Name())
			Unavailable(t, "containerd's CRI API did not answer: %v\n%s", err, tail(string(logs), 2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Pod is a pod sandbox with one container, made as the kubelet does.
type Pod struct {
	ID     string // the sandbox's
	config *runtimeapi.PodSandboxConfig
}

// RunPod creates a pod sandbox and starts container ctr in it; the test
// removes it at the end unless RemovePod did.
func (r *Containerd) RunPod(t testing.TB, namespace, name, ctr string) *Pod {
	t.Helper()
	return r.RunPodOn(t, namespace, name, ctr, runtimeapi.NamespaceMode_POD)
}

// RunPodOn is runPod on the pod's own network (POD) or the node's (NODE).
func (r *Containerd) RunPodOn(t testing.TB, namespace, name, ctr string, network runtimeapi.NamespaceMode) *Pod {
	t.Helper()
	ctx := Context(t, time.Minute)
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: namespace, Uid: RandomID(t) + "-uid"},
		Hostname:     name,
		LogDirectory: filepath.Join(r.Dir, "logs", name+RandomID(t)),
		Labels:       map[string]string{"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": namespace},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: network, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD},
		}},
	}
	if network == runtimeapi.NamespaceMode_NODE {
		cfg.Hostname = "" // the node's UTS namespace too, as the kubelet does
	}
	os.MkdirAll(cfg.LogDirectory, 0o755)
	sb, err := r.RT.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatalf("RunPodSandbox %s/%s: %v", namespace, name, err)
	}
	p := &Pod{ID: sb.GetPodSandboxId(), config: cfg}
	r.ids = append(r.ids, p.ID)
	t.Cleanup(func() { r.RemovePod(t, p) })
	r.recordNetns(t, p.ID)
	c, err := r.RT.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: p.ID, SandboxConfig: cfg,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: ctr},
			Image:    &runtimeapi.ImageSpec{Image: r.Image},
			LogPath:  ctr + ".log",
		},
	})
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", ctr, err)
	}
	r.ids = append(r.ids, c.GetContainerId())
	if _, err := r.RT.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.GetContainerId()}); err != nil {
		t.Fatalf("StartContainer %s: %v", ctr, err)
	}
	return p
}

// RemovePod stops and removes the pod, as the kubelet does when a pod is
// deleted; removing it twice is harmless.
func (r *Containerd) RemovePod(t testing.TB, p *Pod) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := r.RT.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.ID}); err != nil && !strings.Contains(err.Error(), "not found") {
		t.Errorf("StopPodSandbox: %v", err)
	}
	if _, err := r.RT.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.ID}); err != nil && !strings.Contains(err.Error(), "not found") {
		t.Errorf("RemovePodSandbox: %v", err)
	}
}

// PodByName finds the ready sandbox of pod namespace/name.
func (r *Containerd) PodByName(t testing.TB, namespace, name string) *Pod {
	t.Helper()
	resp, err := r.RT.ListPodSandbox(Context(t, 10*time.Second), &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range resp.GetItems() {
		if md := sb.GetMetadata(); md.GetName() == name && md.GetNamespace() == namespace {
			return &Pod{ID: sb.GetId()}
		}
	}
	t.Fatalf("no sandbox %s/%s", namespace, name)
	return nil
}

// recordNetns notes the sandbox's namespace file, to remove it should the
// runtime die before it does.
func (r *Containerd) recordNetns(t testing.TB, id string) {
	resp, err := r.RT.PodSandboxStatus(Context(t, 10*time.Second), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
	if err != nil {
		return
	}
	var info verboseInfo
	if json.Unmarshal([]byte(resp.GetInfo()["info"]), &info) != nil {
		return
	}
	for _, ns := range info.RuntimeSpec.Linux.Namespaces {
		if ns.Type == "network" && strings.HasPrefix(ns.Path, "/var/run/netns/") {
			r.netns = append(r.netns, ns.Path)
		}
	}
}

// PodInode is the inode of a sandbox's namespace, as its runtime reports
// it (not through the Resolver under test).
func (r *Containerd) PodInode(t testing.TB, id string) uint32 {
	t.Helper()
	resp, err := r.RT.PodSandboxStatus(Context(t, 10*time.Second), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info verboseInfo
	if err := json.Unmarshal([]byte(resp.GetInfo()["info"]), &info); err != nil {
		t.Fatal(err)
	}
	for _, p := range info.netnsPaths() {
		if ino := NetnsInode(p); ino != 0 {
			return ino
		}
	}
	t.Fatalf("sandbox %s: no namespace in its status", id)
	return 0
}

// verboseInfo is what containerd puts in a sandbox's verbose status
// under "info": its OCI runtime spec and its pid.
type verboseInfo struct {
	Pid         int `json:"pid"`
	RuntimeSpec struct {
		Linux struct {
			Namespaces []struct {
				Type string `json:"type"`
				Path string `json:"path"`
			} `json:"namespaces"`
		} `json:"linux"`
	} `json:"runtimeSpec"`
}

func (v verboseInfo) netnsPaths() []string {
	var paths []string
	for _, ns := range v.RuntimeSpec.Linux.Namespaces {
		if ns.Type == "network" && ns.Path != "" {
			paths = append(paths, ns.Path)
		}
	}
	if v.Pid > 0 {
		paths = append(paths, fmt.Sprintf("/proc/%d/ns/net", v.Pid))
	}
	return paths
}

// NetnsInode is the inode of the namespace file path opens, 0 when it
// cannot be read.
func NetnsInode(path string) uint32 {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || st.Ino > 1<<32-1 {
		return 0
	}
	return uint32(st.Ino)
}
