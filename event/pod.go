package event

// Pod names the network namespace of an event: an 'ip netns' name, the
// Kubernetes pod (through the container runtime's CRI API) and its
// containers, or a plain container's name. A field is "" when unknown.
// The events of a namespace share one Pod, which is never changed once an
// event carries it (writers may compare Pods by pointer).
type Pod struct {
	NetnsName string `json:"netns_name"`    // e.g. "blue" for /run/netns/blue
	Name      string `json:"pod"`           // pod name, e.g. "web-7d9f"
	Namespace string `json:"pod_namespace"` // Kubernetes namespace, e.g. "default"
	// Container is the container's name for a plain container; for a pod,
	// the names of its containers, sorted and joined with ",". Without a
	// runtime's name, a process's cgroup path in that namespace.
	Container string `json:"container"`
}

// Ref is "namespace/name" for a pod, "" when ev is not in one.
func (p *Pod) Ref() string {
	if p == nil || p.Name == "" {
		return ""
	}
	return p.Namespace + "/" + p.Name
}
