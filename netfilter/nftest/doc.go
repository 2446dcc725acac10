// Package nftest builds, for tests only, the firewall topologies the
// netfilter package and the end-to-end tests share: three network
// namespaces (client, router, back) with iptables-nft rules or a native
// nftables table on the router, the probes that each rule drops with the
// attribution expected of each, and the oracles (iptables -S, nft -a list
// ruleset, the ruleset's text counters aside).
//
// It shells out to ip, iptables and nft, which the product must never do:
// only _test.go files may import it.
package nftest
