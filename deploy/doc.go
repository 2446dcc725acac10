// Package deploy holds droptrace's container image (Dockerfile) and
// Kubernetes DaemonSet (daemonset.yaml), and the tests that decode the
// manifest strictly against the Kubernetes API types and build the image.
//
// It holds no code of the product: nothing imports it, and the Kubernetes
// API packages it tests with must not reach the binary.
package deploy
