// Package pathfloor attaches programs that do nothing to the probes path
// tracing (--trace) attaches with a backend: what any tracer on the same
// probes pays before its first instruction, the floor droptrace's path
// tracing is measured against (make bench, and the VM benchmark). It is a
// measuring instrument, not part of droptrace: droptrace must not import
// it.
package pathfloor
