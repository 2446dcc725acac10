// Package pcapcorpus holds the corpus of pcap-filter expressions that the
// end-to-end differential test runs against tcpdump (e2e) and that the VM
// tests load on older kernels (vmtest/guest), so both check the same
// expressions.
//
// It is data only: it must not import droptrace's packages, run anything
// or read the system.
package pcapcorpus
