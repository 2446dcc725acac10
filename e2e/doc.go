// Package e2e runs the built droptrace binary as a user would, against
// real drops made by iptables and ip6tables rules in network namespaces
// that the tests create and always remove. It has tests only.
package e2e
