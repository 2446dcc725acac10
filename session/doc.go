// Package session runs one droptrace mode from attach to exit: Drops
// (with --tcp and --summary) and Path open their outputs, hold the
// --filter-netns namespace, open the tracer, read events from it as a
// Source, pass them through an optional Stage (an annotator that looks
// things up off the reader's path), write them to the outputs, and say
// at exit what was reported (written to the output), matched and lost.
// Summary mode prints the kernel's counts per interval. With
// --filter-pod, Drops resolves the pod to its namespace, holds it, and
// follows the pod: when it is created again, the tracer is retargeted to
// the new namespace over the same maps.
//
// A run stops within a second of its context ending whatever the outputs
// do: a writer that makes no progress is abandoned (ErrAbandoned), the
// tracer detached and the counts reported.
//
// It must not parse flags, load BPF objects itself or format events:
// cmd turns flags into a Drops or Path, the tracer package loads, the
// output package formats, and this package moves events between them and
// counts them.
package session
