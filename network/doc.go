// Package network is ctrd's container networking: bridge networks with
// persisted IP allocation, veth pairs, published ports served by kernel DNAT
// in ctrd's own nftables table, and the resolv.conf / hosts / hostname files
// of containers.
//
// The daemon drives it through a container's life:
//
//	ep, err := m.Allocate(opts)                 // address + host ports, persisted (or AllocateTx in the daemon's own commit)
//	path := m.NetNSPath(id)
//	if ep.NeedsNetNS() { err = CreateNetNS(path) } // every mode but host
//	err = m.Attach(ep, path)                    // veth + DNAT rules (nothing to do for host / none)
//	r, h, hn, err := m.WriteFiles(ep, dir)      // bind-mount them on /etc/resolv.conf, /etc/hosts, /etc/hostname
//	... start the container in the namespace at path ...
//	err = m.Detach(ep); err = RemoveNetNS(path) // when it stops
//	err = m.Release(id)                         // frees address and ports (or ReleaseTx)
//
// and at daemon start, after New, m.Reconcile(running) puts the kernel state
// back in line with the containers still running (rules exactly those of
// running containers, their veths present, no others on ctrd's bridges).
//
// State lives in the daemon's bbolt database (bucket "network"); the kernel
// objects (bridges, veths, the nftables table) are derived from it and
// repaired by New and Reconcile. nft.go describes the firewall. Published
// ports work with no userland proxy, also from the host to 127.0.0.1: the
// output chain DNATs them, route_localnet=1 on ctrd's bridges lets the
// loopback source out, and a masquerade rewrites it to the bridge address.
// Where cgroup v2 and BPF allow, the host's own connections skip all of that:
// redirect.go has them sent straight to the container at connect() (package
// sockredirect), and the rules serve the rest (other hosts, containers, and
// the host while ctrd is stopped).
//
// User networks resolve container names through generated /etc/hosts
// entries, rewritten in place in every running container of the network
// when one joins or leaves (there is no embedded DNS server).
//
// Only IPv4 is supported: published ports are not reachable over IPv6.
package network
