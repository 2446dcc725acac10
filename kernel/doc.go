// Package kernel answers questions about the running kernel that droptrace
// needs before and while it traces: which drop reasons exist and what their
// codes are called (read from BTF, never from a table compiled into the
// binary, because the enum changes with every release), which function a
// kernel address belongs to (from /proc/kallsyms), tracepoint prototypes,
// tracefs and the privileges droptrace needs.
//
// Everything here describes the kernel; nothing here decides how it is shown.
// This package must not format output for the user, parse flags or print:
// it returns values and errors, and its callers decide what to say.
package kernel
