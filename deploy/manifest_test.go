package deploy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// decodeStrict decodes one YAML document into v, failing on any field
// that v's type does not have (a typo the API server would drop or refuse).
func decodeStrict(t *testing.T, doc []byte, v any) {
	t.Helper()
	if err := strictDecode(doc, v); err != nil {
		t.Fatal(err)
	}
}

// strictDecode decodes as the API server's strict field validation does:
// field names case-sensitive, no unknown or duplicate fields. (The
// standard library's DisallowUnknownFields would let "hostPid" through.)
func strictDecode(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	strictErrs, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return fmt.Errorf("decoding %T: %w", v, err)
	}
	if len(strictErrs) > 0 {
		return fmt.Errorf("decoding %T strictly: %w", v, errors.Join(strictErrs...))
	}
	return nil
}

// TestStrictDecodeRefusesTypos checks the decoding the manifest passes
// would catch a misspelt field.
func TestStrictDecodeRefusesTypos(t *testing.T) {
	doc := "apiVersion: apps/v1\nkind: DaemonSet\nspec:\n  template:\n    spec:\n      hostPid: true\n"
	if err := strictDecode([]byte(doc), &appsv1.DaemonSet{}); err == nil || !strings.Contains(err.Error(), "hostPid") {
		t.Errorf("decoding hostPid: got %v, want an unknown field error", err)
	}
}

// manifest decodes daemonset.yaml: a Namespace, then the DaemonSet.
func manifest(t *testing.T) (*corev1.Namespace, *appsv1.DaemonSet) {
	t.Helper()
	data, err := os.ReadFile("daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(data), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("got %d documents, want 2 (Namespace, DaemonSet)", len(docs))
	}
	var ns corev1.Namespace
	var ds appsv1.DaemonSet
	decodeStrict(t, []byte(docs[0]), &ns)
	decodeStrict(t, []byte(docs[1]), &ds)
	if ns.Kind != "Namespace" || ns.APIVersion != "v1" || ds.Kind != "DaemonSet" || ds.APIVersion != "apps/v1" {
		t.Fatalf("kinds: %s %s, %s %s", ns.APIVersion, ns.Kind, ds.APIVersion, ds.Kind)
	}
	if ds.Namespace != ns.Name {
		t.Errorf("DaemonSet in namespace %q, want %q", ds.Namespace, ns.Name)
	}
	return &ns, &ds
}

func TestManifestStrict(t *testing.T) {
	_, ds := manifest(t)
	spec := ds.Spec.Template.Spec
	if !spec.HostPID || spec.HostNetwork {
		t.Errorf("hostPID %v hostNetwork %v, want true false", spec.HostPID, spec.HostNetwork)
	}
	sel := ds.Spec.Selector.MatchLabels
	for k, v := range sel {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the template's labels", k, v)
		}
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	checkPrivileges(t, c.SecurityContext)
	checkMounts(t, c.VolumeMounts, spec.Volumes)
	ann := ds.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != "9477" {
		t.Errorf("scrape annotations %v", ann)
	}
	args := strings.Join(c.Args, " ")
	if !strings.Contains(args, "--summary") || !strings.Contains(args, "--metrics-addr :9477") {
		t.Errorf("args %q, want --summary and --metrics-addr :9477", args)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9477 {
		t.Errorf("ports %v, want 9477", c.Ports)
	}
}

// checkPrivileges pins the least privilege the manifest documents.
func checkPrivileges(t *testing.T, sc *corev1.SecurityContext) {
	t.Helper()
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("no securityContext capabilities")
	}
	var add []string
	for _, c := range sc.Capabilities.Add {
		add = append(add, string(c))
	}
	slices.Sort(add)
	if want := []string{"BPF", "PERFMON", "SYSLOG", "SYS_PTRACE"}; !slices.Equal(add, want) {
		t.Errorf("capabilities added %v, want %v", add, want)
	}
	if len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("capabilities dropped %v, want ALL", sc.Capabilities.Drop)
	}
	if sc.Privileged == nil || *sc.Privileged {
		t.Error("privileged must be set to false")
	}
	// The API server refuses allowPrivilegeEscalation false with SYS_ADMIN.
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || slices.Contains(add, "SYS_ADMIN") {
		t.Error("allowPrivilegeEscalation must be false, without SYS_ADMIN")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
}

// checkMounts checks that every mount is read-only and names a hostPath
// volume, and that the ones droptrace reads are there.
func checkMounts(t *testing.T, mounts []corev1.VolumeMount, vols []corev1.Volume) {
	t.Helper()
	hostPaths := map[string]string{}
	for _, v := range vols {
		if v.HostPath == nil {
			t.Errorf("volume %s is not a hostPath", v.Name)
			continue
		}
		hostPaths[v.Name] = v.HostPath.Path
	}
	var paths []string
	for _, m := range mounts {
		if !m.ReadOnly {
			t.Errorf("mount %s is not read-only", m.MountPath)
		}
		if hp, ok := hostPaths[m.Name]; !ok || hp != m.MountPath {
			t.Errorf("mount %s: volume %s has host path %q, want the same path", m.MountPath, m.Name, hp)
		}
		paths = append(paths, m.MountPath)
	}
	slices.Sort(paths)
	if want := []string{"/run/containerd/containerd.sock", "/run/netns", "/sys/kernel/btf"}; !slices.Equal(paths, want) {
		t.Errorf("mounts %v, want %v", paths, want)
	}
}

// TestManifestFlags checks that droptrace knows every flag the manifest
// and the image pass it.
func TestManifestFlags(t *testing.T) {
	_, ds := manifest(t)
	help, err := exec.Command(binary(t), "--help").Output()
	if err != nil {
		t.Fatalf("droptrace --help: %v", err)
	}
	for _, a := range ds.Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--") && !strings.Contains(string(help), " "+a+" ") {
			t.Errorf("droptrace --help does not know %s", a)
		}
	}
}

// binary is $DROPTRACE_BIN, else droptrace built for the test.
func binary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("DROPTRACE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "droptrace")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=test", "-o", bin, "../cmd/droptrace")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building droptrace: %v\n%s", err, out)
	}
	return bin
}
