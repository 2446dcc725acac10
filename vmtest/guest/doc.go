// Package guest holds tests that run inside a virtual machine booted by
// vmtest/run.sh, as root, on stock Debian kernels that allow what the
// host kernel does not (kprobes, kprobe-multi, fentry).
//
// It has tests only. They skip, saying why, unless DROPTRACE_VM=1, so that
// `go test ./...` on a host never mistakes them for host tests; inside the
// VM they fail rather than skip when something they need is missing.
package guest
