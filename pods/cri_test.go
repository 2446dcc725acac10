package pods

import (
	"context"
	"testing"
	"time"
)

// TestCRIPod names a pod sandbox made through containerd's CRI API, as
// the kubelet makes them, and follows it when it is deleted and created
// again under the same name.
func TestCRIPod(t *testing.T) {
	r := startContainerd(t)
	ns, name := "shop-"+randomID(t), "web"
	pod := r.runPod(t, ns, name, "app")
	res, err := New(context.Background(), Options{CRIEndpoint: r.sock, Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	ino, err := res.Resolve(contextFor(t, 10*time.Second), ns+"/"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pod %s/%s: netns %d", ns, name, ino)
	p := res.Lookup(ino)
	if p == nil || p.Name != name || p.Namespace != ns || p.Container != "app" {
		t.Fatalf("Lookup(%d) = %+v, want pod %s/%s container app", ino, p, ns, name)
	}
	_ = pod
}
