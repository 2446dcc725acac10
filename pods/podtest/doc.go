// Package podtest starts the container runtimes that the tests of pods
// and the end-to-end tests name drops in: a containerd of the test's own
// with its CRI plugin and a CNI bridge, pod sandboxes made through the
// CRI API as the kubelet makes them (a pause image built from a static Go
// program and imported with ctr, no registry), and podman containers from
// a local rootfs. Everything a test starts is removed when it ends, even
// when it fails.
//
// It is for tests only: droptrace must not import it. It skips loudly
// when a runtime cannot run here, and fails instead under CI=true.
package podtest
