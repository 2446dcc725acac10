package pods

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultCRIEndpoints are where containerd, CRI-O and cri-dockerd listen,
// tried in this order when no endpoint is given.
var DefaultCRIEndpoints = []string{
	"/run/containerd/containerd.sock",
	"/var/run/crio/crio.sock",
	"/run/crio/crio.sock",
	"/run/cri-dockerd.sock",
}

// ErrNoCRI means no CRI runtime answered at the endpoints tried.
var ErrNoCRI = errors.New("no CRI runtime found")

// criClient lists pod sandboxes and containers of one CRI runtime.
type criClient struct {
	endpoint string
	conn     *grpc.ClientConn
	rt       runtimeapi.RuntimeServiceClient
}

// sandbox is a ready pod sandbox as the CRI runtime reports it.
type sandbox struct {
	id, name, namespace string
}

// dialCRI connects to endpoint ("/path" or "unix:///path") and checks
// that the runtime serves the CRI API: a containerd with its CRI plugin
// disabled (as docker runs it) answers Unimplemented.
func dialCRI(ctx context.Context, endpoint string) (*criClient, error) {
	path := strings.TrimPrefix(endpoint, "unix://")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("cri endpoint %s: %w", endpoint, err)
	}
	conn, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("cri endpoint %s: %w", endpoint, err)
	}
	c := &criClient{endpoint: endpoint, conn: conn, rt: runtimeapi.NewRuntimeServiceClient(conn)}
	if _, err := c.rt.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cri endpoint %s: version: %w", endpoint, err)
	}
	if _, err := c.sandboxes(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// findCRI dials each default endpoint and returns the first that serves
// the CRI API.
func findCRI(ctx context.Context, endpoints []string) (*criClient, error) {
	var errs []error
	for _, ep := range endpoints {
		c, err := dialCRI(ctx, ep)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return nil, errors.Join(append([]error{ErrNoCRI}, errs...)...)
}

func (c *criClient) Close() error { return c.conn.Close() }

// sandboxes lists the ready pod sandboxes.
func (c *criClient) sandboxes(ctx context.Context) ([]sandbox, error) {
	resp, err := c.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}},
	})
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			return nil, fmt.Errorf("cri endpoint %s: the CRI API is not served: %w", c.endpoint, err)
		}
		return nil, fmt.Errorf("cri endpoint %s: listing pod sandboxes: %w", c.endpoint, err)
	}
	var out []sandbox
	for _, s := range resp.GetItems() {
		md := s.GetMetadata()
		out = append(out, sandbox{id: s.GetId(), name: md.GetName(), namespace: md.GetNamespace()})
	}
	return out, nil
}

// containerNames lists the running containers' names by sandbox id.
func (c *criClient) containerNames(ctx context.Context) (map[string][]string, error) {
	resp, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}},
	})
	if err != nil {
		return nil, fmt.Errorf("cri endpoint %s: listing containers: %w", c.endpoint, err)
	}
	out := map[string][]string{}
	for _, ctr := range resp.GetContainers() {
		out[ctr.GetPodSandboxId()] = append(out[ctr.GetPodSandboxId()], ctr.GetMetadata().GetName())
	}
	return out, nil
}

// sandboxNetns returns the files that should open the sandbox's network
// namespace, best first: the namespace's path in its runtime spec
// (containerd, CRI-O; readable without CAP_SYS_PTRACE), then its
// process's /proc/PID/ns/net. hostNetwork is true for a pod that shares
// the node's namespace, which names nothing.
func (c *criClient) sandboxNetns(ctx context.Context, id string, procDir string) (paths []string, hostNetwork bool, err error) {
	resp, err := c.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
	if err != nil {
		return nil, false, fmt.Errorf("cri endpoint %s: status of sandbox %s: %w", c.endpoint, id, err)
	}
	opts := resp.GetStatus().GetLinux().GetNamespaces().GetOptions()
	if opts.GetNetwork() == runtimeapi.NamespaceMode_NODE {
		return nil, true, nil
	}
	var info verboseInfo
	if raw, ok := resp.GetInfo()["info"]; ok {
		if err := json.Unmarshal([]byte(raw), &info); err != nil {
			return nil, false, fmt.Errorf("cri endpoint %s: status of sandbox %s: decoding info: %w", c.endpoint, id, err)
		}
	}
	if paths = info.netnsPaths(procDir); len(paths) == 0 {
		return nil, false, fmt.Errorf("cri endpoint %s: sandbox %s: no pid or network namespace in its verbose status", c.endpoint, id)
	}
	return paths, false, nil
}

// verboseInfo is what containerd and CRI-O put in a sandbox's verbose
// status under "info": its OCI runtime spec and (containerd) its pid.
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

// netnsPaths lists the spec's path, then the pid's. Runtimes write
// /var/run/netns/...; /var/run is a link to /run on the hosts they run
// on, but need not exist in droptrace's own container (FROM scratch).
func (v verboseInfo) netnsPaths(procDir string) []string {
	var paths []string
	for _, ns := range v.RuntimeSpec.Linux.Namespaces {
		if ns.Type == "network" && ns.Path != "" {
			p := ns.Path
			if rest, ok := strings.CutPrefix(p, "/var/run/"); ok {
				p = "/run/" + rest
			}
			paths = append(paths, p)
		}
	}
	if v.Pid > 0 {
		paths = append(paths, fmt.Sprintf("%s/%d/ns/net", procDir, v.Pid))
	}
	return paths
}
