// Package metrics exposes droptrace's counters to Prometheus with the
// official Go client, on a registry of its own: drops by reason, location,
// namespace, interface and protocol, lost events, TCP events by kind,
// attached probes and build information.
//
// Label cardinality is bounded: past a cap of label sets, new ones are
// counted under the value "other" so that a drop storm over many
// interfaces or namespaces cannot grow a scrape without limit.
//
// It must not load BPF objects or decode events: it is handed decoded
// events (event mode) or a function that reads the kernel's summary at
// scrape time (summary mode).
package metrics
