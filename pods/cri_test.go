package pods

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/droptrace/droptrace/output"
	"github.com/droptrace/droptrace/pods/podtest"
)

// TestCRIPod makes pod sandboxes through containerd's CRI API, as the
// kubelet makes them, drops a packet inside one under droptrace filtered
// to the namespace its name resolves to, and checks the event is named;
// then deletes the pod, creates it again under the same name, and checks
// that Follow reports its new namespace and its drops are named again.
func TestCRIPod(t *testing.T) {
	r := podtest.StartContainerd(t)
	bin := droptraceBinary(t)
	ns, name := "shop-"+podtest.RandomID(t), "web"
	ref := ns + "/" + name
	r.RunPod(t, ns, name, "app")
	r.RunPod(t, ns, "other", "db")
	r.RunPodOn(t, ns, "hostnet", "agent", runtimeapi.NamespaceMode_NODE)
	res, err := New(context.Background(), Options{CRIEndpoint: r.Sock, Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	ino, err := res.Resolve(podtest.Context(t, 10*time.Second), ref)
	if err != nil {
		t.Fatal(err)
	}
	other, err := res.Resolve(podtest.Context(t, 10*time.Second), ns+"/other")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pod %s: netns %d; %s/other: netns %d", ref, ino, ns, other)
	paths, _, err := res.cri.sandboxNetns(podtest.Context(t, 10*time.Second), r.PodByName(t, ns, name).ID, "/proc")
	if err != nil || len(paths) != 2 || netnsInode(paths[0]) != ino || netnsInode(paths[1]) != ino {
		t.Errorf("sandbox status: paths %q (%v), want the spec's and the pid's, both netns %d", paths, err, ino)
	}
	if ino == other {
		t.Fatalf("both pods resolve to netns %d", ino)
	}
	if _, err := res.Resolve(podtest.Context(t, 10*time.Second), ns+"/hostnet"); !errors.Is(err, ErrPodNotFound) {
		t.Errorf("a pod on the node's network resolved (%v): it has no namespace of its own", err)
	}
	if p := res.Lookup(linkInode("/proc/1/ns/net")); p != nil && p.Name != "" {
		t.Errorf("the node's namespace is named as pod %s", p.Ref())
	}
	checkPodDrop(t, res, bin, ino, other, ns, name)

	inodes, stop := res.Follow(ref)
	defer stop()
	if got := <-inodes; got != ino {
		t.Fatalf("Follow(%s) started at %d, want %d", ref, got, ino)
	}
	r.RemovePod(t, r.PodByName(t, ns, name))
	recreated := r.PodInode(t, r.RunPod(t, ns, name, "app").ID)
	if recreated == ino {
		// The kernel may give a new namespace the inode of one just
		// freed: a filter on the inode then selects the new pod as is.
		t.Logf("pod %s recreated: netns %d again", ref, recreated)
	} else {
		waitInode(t, inodes, recreated)
		t.Logf("pod %s recreated: netns %d", ref, recreated)
	}
	checkPodDrop(t, res, bin, recreated, other, ns, name)
}

// waitInode waits for Follow to report want.
func waitInode(t *testing.T, inodes <-chan uint32, want uint32) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ino := <-inodes:
			if ino == want {
				return
			}
		case <-timeout:
			t.Fatalf("Follow did not report the recreated pod's netns %d within 30s", want)
		}
	}
}

// checkPodDrop runs droptrace filtered to ino (what --filter-pod resolves
// to), drops a packet in ino and in other, and checks that only ino's drop
// is reported, named as the pod in the JSON output.
func checkPodDrop(t *testing.T, res *Resolver, bin string, ino, other uint32, ns, name string) {
	t.Helper()
	// A rebuild may have seen the sandbox before its container started.
	podtest.WaitFor(t, "the resolver to see the pod's container", 10*time.Second, func() bool {
		p := res.Lookup(ino)
		return p != nil && p.Container == "app"
	})
	tr := startDroptrace(t, bin, "--filter-netns", fmt.Sprint(ino))
	podtest.DropIn(t, podtest.NetnsPath(t, other), 9001)
	podtest.DropIn(t, podtest.NetnsPath(t, ino), 9002)
	ev := tr.waitDrop(t, 9002)
	for _, e := range tr.all() {
		if e.Netns != ino || e.Dport == 9001 {
			t.Errorf("--filter-netns %d reported a drop in netns %d to port %d", ino, e.Netns, e.Dport)
		}
	}
	if ev.Reason != "NO_SOCKET" {
		t.Errorf("drop reason %q, want NO_SOCKET", ev.Reason)
	}
	res.Annotate(ev)
	var buf bytes.Buffer
	if err := output.NewJSON(&buf).Write(ev); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Netns                        uint32
		Pod, PodNamespace, Container string
	}
	if err := json.Unmarshal(buf.Bytes(), &struct {
		Netns        *uint32 `json:"netns"`
		Pod          *string `json:"pod"`
		PodNamespace *string `json:"pod_namespace"`
		Container    *string `json:"container"`
	}{&got.Netns, &got.Pod, &got.PodNamespace, &got.Container}); err != nil {
		t.Fatal(err)
	}
	if got.Netns != ino || got.Pod != name || got.PodNamespace != ns || got.Container != "app" {
		t.Errorf("JSON event %s: want netns %d pod %s pod_namespace %s container app", buf.Bytes(), ino, name, ns)
	}
}
