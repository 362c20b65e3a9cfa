package network

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// ErrNotFound is returned (wrapped) by Endpoint for a container without one.
var ErrNotFound = errors.New("not found")

// Allocate reserves a container's place on its network, in one database
// transaction: an address (never handed out twice, also across restarts and
// crashes) and the host ports (checked against other containers and against
// host processes). Nothing is reserved when it fails. Calling it again for
// a container that has an endpoint returns that endpoint.
func (m *Manager) Allocate(o EndpointOptions) (*Endpoint, error) {
	var ep *Endpoint
	err := m.db.Update(func(tx *bolt.Tx) error {
		var err error
		ep, err = m.AllocateTx(tx, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	ep.NetNSPath = m.attached[ep.ContainerID]
	m.mu.Unlock()
	return ep, nil
}

// AllocateTx is Allocate inside the caller's write transaction of the
// shared database, so that the daemon can store a container and its
// network reservation in one commit (one fsync). Nothing is reserved if
// the transaction is rolled back.
func (m *Manager) AllocateTx(tx *bolt.Tx, o EndpointOptions) (*Endpoint, error) {
	if o.ContainerID == "" {
		return nil, errors.New("allocate: empty container ID")
	}
	if o.Network == "" || o.Network == "default" {
		o.Network = DefaultNetwork
	}
	if err := validateDNS(o); err != nil {
		return nil, err
	}
	for _, p := range o.Ports {
		if err := checkProto(p.Proto); err != nil {
			return nil, err
		}
		if p.ContainerPort < 1 || p.ContainerPort > 65535 || p.HostPort < 0 || p.HostPort > 65535 ||
			(p.HostPortEnd != 0 && (p.HostPortEnd < p.HostPort || p.HostPortEnd > 65535)) {
			return nil, fmt.Errorf("invalid port binding %+v", p)
		}
		if p.HostIP != "" && (net.ParseIP(p.HostIP) == nil || net.ParseIP(p.HostIP).To4() == nil) {
			return nil, fmt.Errorf("invalid host IP %q in port binding (only IPv4 is supported)", p.HostIP)
		}
	}
	var exposed []PortBinding
	for _, e := range o.Exposed {
		ps, err := parseExposed(e)
		if err != nil {
			return nil, err
		}
		exposed = append(exposed, ps...)
	}
	ep := &Endpoint{
		ContainerID: o.ContainerID, ContainerName: strings.TrimPrefix(o.ContainerName, "/"),
		Hostname: o.Hostname, Aliases: o.Aliases, Network: o.Network, Exposed: o.Exposed,
		DNS: o.DNS, DNSSearch: o.DNSSearch, DNSOptions: o.DNSOptions, ExtraHosts: o.ExtraHosts,
		Created: time.Now().UTC(),
	}
	if ep.Hostname == "" {
		ep.Hostname = ep.ContainerID
		if len(ep.Hostname) > 12 {
			ep.Hostname = ep.Hostname[:12]
		}
	}
	if !ep.UsesBridge() {
		if len(o.Ports) > 0 || o.PublishAll {
			ep.Warnings = append(ep.Warnings, fmt.Sprintf("Published ports are discarded when using %s network mode", ep.Network))
		}
	} else {
		// wanted bindings: -p, then -P for exposed ports not already published
		ep.Ports = append(ep.Ports, o.Ports...)
		if o.PublishAll {
			explicit := map[string]bool{}
			for _, p := range o.Ports {
				explicit[p.Key()] = true
			}
			for _, p := range exposed {
				if !explicit[p.Key()] {
					explicit[p.Key()] = true
					ep.Ports = append(ep.Ports, p)
				}
			}
		}
	}
	b, err := getBuckets(tx)
	if err != nil {
		return nil, err
	}
	if existing, err := b.endpoint(o.ContainerID); err != nil || existing != nil {
		return existing, err
	}
	if ep.UsesBridge() {
		n, err := b.network(ep.Network)
		if err != nil {
			return nil, err
		}
		if n == nil {
			return nil, fmt.Errorf("network %s not found", ep.Network)
		}
		ep.NetworkID, ep.Bridge, ep.Gateway = n.ID, n.Bridge, n.Gateway
		if err := m.resolvePorts(b, ep); err != nil {
			return nil, err
		}
		ip, err := b.allocateIP(n, ep.ContainerID)
		if err != nil {
			return nil, err
		}
		_, sn, _ := net.ParseCIDR(n.Subnet)
		ep.PrefixLen, _ = sn.Mask.Size()
		ep.IPAddress = ip.String()
		ep.MacAddress = macFromIP(ip).String()
		ep.HostVeth = hostVethName(ep.ContainerID)
	}
	if err := b.putEndpoint(ep); err != nil {
		return nil, err
	}
	return ep, nil
}

// resolvePorts gives every binding a host port and records it, refusing
// ports published by another container or held by a host process.
func (m *Manager) resolvePorts(b *buckets, ep *Endpoint) error {
	lo, hi := ephemeralRange()
	for i := range ep.Ports {
		p := &ep.Ports[i]
		if p.HostIP == "" {
			p.HostIP = "0.0.0.0"
		}
		free := func(port int) (bool, error) {
			if h, _ := b.portHolder(p.Proto, port, p.HostIP); h != "" {
				return false, nil
			}
			used, err := portInUse(p.Proto, p.HostIP, port)
			return !used, err
		}
		switch {
		case p.HostPort == 0 || p.HostPortEnd > p.HostPort: // ephemeral, or any port of a range
			first, last := p.HostPort, p.HostPortEnd
			start := first
			if p.HostPort == 0 {
				first, last = lo, hi
				m.ephMu.Lock()
				start = m.nextEph
				m.ephMu.Unlock()
				if start < lo || start > hi {
					start = lo
				}
			}
			found := 0
			for n, cur := 0, start; n <= last-first; n++ {
				ok, err := free(cur)
				if err != nil {
					return err
				}
				if ok {
					found = cur
					break
				}
				if cur++; cur > last {
					cur = first
				}
			}
			if found == 0 {
				if p.HostPort == 0 {
					return fmt.Errorf("no free host port in %d-%d for %s", lo, hi, p.Key())
				}
				return fmt.Errorf("Bind for %s:%d-%d failed: every port of the range is already allocated", p.HostIP, p.HostPort, p.HostPortEnd)
			}
			if p.HostPort == 0 {
				m.ephMu.Lock()
				m.nextEph = found + 1
				m.ephMu.Unlock()
			}
			p.HostPort = found
		default:
			if h, ip := b.portHolder(p.Proto, p.HostPort, p.HostIP); h != "" {
				name := h
				if other, _ := b.endpoint(h); other != nil {
					name = displayName(other)
				}
				if h == ep.ContainerID {
					return fmt.Errorf("Bind for %s:%d failed: port published twice (also as %s:%d/%s)", p.HostIP, p.HostPort, ip, p.HostPort, p.Proto)
				}
				return fmt.Errorf("Bind for %s:%d failed: port is already allocated by container %s", p.HostIP, p.HostPort, name)
			}
			used, err := portInUse(p.Proto, p.HostIP, p.HostPort)
			if err != nil {
				return err
			}
			if used {
				// slow path, only on a conflict: name the holder
				if s, held := findHostHolder(hostSockets(p.Proto), p.HostIP, p.HostPort); held {
					return fmt.Errorf("Bind for %s:%d failed: port is already in use by %s", p.HostIP, p.HostPort, describeSocketOwner(s.inode))
				}
				// a connected UDP socket or the like: it does not hold the port
			}
		}
		p.HostPortEnd = 0
		if err := b.ports.Put(portKey(p.Proto, p.HostPort, p.HostIP), []byte(ep.ContainerID)); err != nil {
			return err
		}
	}
	return nil
}

func validateDNS(o EndpointOptions) error {
	for _, d := range o.DNS {
		if net.ParseIP(d) == nil {
			return fmt.Errorf("invalid --dns %q: not an IP address", d)
		}
	}
	for _, s := range o.DNSSearch {
		if s == "" || strings.ContainsAny(s, " \t\n") {
			return fmt.Errorf("invalid --dns-search %q", s)
		}
	}
	for _, s := range o.DNSOptions {
		if s == "" || strings.ContainsAny(s, " \t\n") {
			return fmt.Errorf("invalid --dns-option %q", s)
		}
	}
	for _, h := range o.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t\n") {
			return fmt.Errorf("invalid --add-host %q: want name:ip", h)
		}
		if ip != "host-gateway" && net.ParseIP(ip) == nil {
			return fmt.Errorf("invalid --add-host %q: %q is not an IP address", h, ip)
		}
	}
	for _, a := range o.Aliases {
		if a == "" || strings.ContainsAny(a, " \t\n") {
			return fmt.Errorf("invalid network alias %q", a)
		}
	}
	return nil
}

// Endpoint returns a container's endpoint; the error wraps ErrNotFound when
// it has none.
func (m *Manager) Endpoint(containerID string) (*Endpoint, error) {
	var ep *Endpoint
	err := m.db.View(func(tx *bolt.Tx) error {
		b, err := getBuckets(tx)
		if err != nil {
			return err
		}
		ep, err = b.endpoint(containerID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if ep == nil {
		return nil, fmt.Errorf("endpoint of container %s: %w", containerID, ErrNotFound)
	}
	m.mu.Lock()
	ep.NetNSPath = m.attached[containerID]
	m.mu.Unlock()
	return ep, nil
}

// Attach connects an allocated endpoint to the namespace at netnsPath
// (made by CreateNetNS): a veth pair (host side on the bridge, eth0 in the
// namespace with the address, MAC and default route) and the DNAT rules of
// its published ports. With --network host or none there is nothing to do.
// On failure nothing of it is left.
func (m *Manager) Attach(ep *Endpoint, netnsPath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.attached[ep.ContainerID]; ok {
		m.detachLocked(ep, nil)
	}
	if ep.UsesBridge() {
		// the DNAT rules go in while the veth is made (one nftables
		// transaction, concurrent with the rtnetlink requests)
		rules := wantedPortRules(ep)
		nftDone := make(chan error, 1)
		if len(rules) == 0 {
			nftDone <- nil
		} else {
			go func() {
				for _, r := range rules {
					m.fw.queueAddPort(r)
				}
				nftDone <- m.fw.flush()
			}()
		}
		vethErr := m.createVeth(ep, netnsPath)
		if vethErr == nil {
			waitForwarding(ep.HostVeth)
		}
		nftErr := <-nftDone
		if vethErr != nil || nftErr != nil {
			if vethErr == nil {
				m.deleteLink(ep.HostVeth)
			}
			if nftErr == nil && len(rules) > 0 {
				if have, err := m.fw.listPortRules(); err == nil {
					if m.fw.queueDelete(have[ep.ContainerID]) == nil {
						_ = m.fw.flush()
					}
				}
			}
			if vethErr != nil {
				return vethErr
			}
			return fmt.Errorf("publish ports of %s: %w", displayName(ep), nftErr)
		}
	}
	m.attached[ep.ContainerID] = netnsPath
	ep.NetNSPath = netnsPath
	m.redirectPorts(ep, true)
	if ep.Network != DefaultNetwork && ep.UsesBridge() {
		m.refreshHosts(ep.Network, nil)
	}
	return nil
}

// Detach removes the endpoint's veth and DNAT rules (and the conntrack
// entries of its address, so that no stale NAT outlives it). Idempotent.
func (m *Manager) Detach(ep *Endpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.detachLocked(ep, nil)
}

// detachLocked detaches with m.mu held; b is the caller's transaction, if
// it has one open (nil: read the database afresh).
func (m *Manager) detachLocked(ep *Endpoint, b *buckets) error {
	_, was := m.attached[ep.ContainerID]
	delete(m.attached, ep.ContainerID)
	ep.NetNSPath = ""
	// An endpoint not attached has no veth nor rules: Attach leaves
	// none when it fails, and Reconcile removes those of containers
	// that stopped while ctrd was away. Looking for them anyway would
	// wait for the kernel's rtnl lock, held while the veth of this
	// very container is being deleted in the background.
	if !was || !ep.UsesBridge() {
		return nil
	}
	m.redirectPorts(ep, false)
	var errs []error
	if ep.HostVeth != "" {
		if l, err := m.nl.LinkByName(ep.HostVeth); err == nil {
			m.deleteLinkAsync(l)
		} else if !isNotFound(err) {
			errs = append(errs, err)
		}
	}
	if len(ep.Ports) > 0 {
		rules, err := m.fw.listPortRules()
		if err != nil {
			errs = append(errs, err)
		} else if rs := rules[ep.ContainerID]; len(rs) > 0 {
			err := m.fw.queueDelete(rs)
			if err == nil {
				err = m.fw.flush()
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("delete port rules of %s: %w", displayName(ep), err))
			}
		}
	}
	if ip := net.ParseIP(ep.IPAddress); ip != nil && publishesUDP(ep) {
		m.bg.Add(1)
		go func() {
			defer m.bg.Done()
			flushConntrack(ip)
		}()
	}
	if was && ep.Network != DefaultNetwork {
		m.refreshHosts(ep.Network, b)
	}
	return errors.Join(errs...)
}

func publishesUDP(ep *Endpoint) bool {
	for _, p := range ep.Ports {
		if p.Proto == "udp" {
			return true
		}
	}
	return false
}

// flushConntrack deletes the conntrack entries of connections to and from
// an address: a UDP "connection" to a published port (a client sending
// every few seconds) would otherwise keep being NATed to a container that
// is gone. TCP needs none of this (such connections are reset). It dumps
// the whole table (milliseconds of kernel time on a big one), so it runs in
// the background, with a socket of its own, and only for UDP ports.
func flushConntrack(ip net.IP) {
	to := &netlink.ConntrackFilter{}
	_ = to.AddIP(netlink.ConntrackReplySrcIP, ip)
	from := &netlink.ConntrackFilter{}
	_ = from.AddIP(netlink.ConntrackOrigSrcIP, ip)
	if _, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, to, from); err != nil {
		logrus.Debugf("network: flush conntrack of %s: %v", ip, err)
	}
}

// Release frees the container's address and host ports (detaching first if
// needed). Idempotent.
func (m *Manager) Release(containerID string) error {
	if err := m.detachByID(containerID); err != nil {
		return err
	}
	return m.db.Update(func(tx *bolt.Tx) error { return m.ReleaseTx(tx, containerID) })
}

// ReleaseTx is Release inside the caller's write transaction (for one
// commit with the removal of the container's record). The endpoint should
// be detached already; if it is not, it is detached first.
func (m *Manager) ReleaseTx(tx *bolt.Tx, containerID string) error {
	b, err := getBuckets(tx)
	if err != nil {
		return err
	}
	ep, err := b.endpoint(containerID)
	if err != nil || ep == nil {
		return err
	}
	m.mu.Lock()
	_, attached := m.attached[containerID]
	if attached {
		err = m.detachLocked(ep, b)
	}
	m.mu.Unlock()
	if err != nil {
		return err
	}
	if err := b.releasePorts(ep); err != nil {
		return err
	}
	if err := b.releaseIP(ep.NetworkID, ep.IPAddress, ep.ContainerID); err != nil {
		return err
	}
	return b.endpoints.Delete([]byte(containerID))
}

// detachByID detaches a container's endpoint if it is attached.
func (m *Manager) detachByID(containerID string) error {
	m.mu.Lock()
	_, attached := m.attached[containerID]
	m.mu.Unlock()
	if !attached {
		return nil
	}
	ep, err := m.Endpoint(containerID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	return m.Detach(ep)
}

// Reconcile repairs the kernel state after a daemon (re)start: running maps
// the ID of each running container to its namespace path. Endpoints of
// containers not running lose their veth and rules; running ones get
// exactly their rules (none duplicated, none missing) and their veth back
// if it vanished. Veths on ctrd's bridges that belong to no running
// endpoint are deleted.
func (m *Manager) Reconcile(running map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var eps []*Endpoint
	var nets []*Network
	err := m.db.View(func(tx *bolt.Tx) error {
		b, err := getBuckets(tx)
		if err != nil {
			return err
		}
		if eps, err = b.allEndpoints(); err != nil {
			return err
		}
		nets, err = b.allNetworks()
		return err
	})
	if err != nil {
		return err
	}
	byID := map[string]*Endpoint{}
	for _, ep := range eps {
		byID[ep.ContainerID] = ep
	}
	var errs []error

	// rules
	rules, err := m.fw.listPortRules()
	if err != nil {
		return err
	}
	for id, rs := range rules {
		ep, ok := byID[id]
		if _, run := running[id]; id == "" || !ok || !run || !ep.UsesBridge() {
			if err := m.fw.queueDelete(rs); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for id := range running {
		ep := byID[id]
		if ep == nil || !ep.UsesBridge() {
			continue
		}
		want := wantedPortRules(ep)
		have := rules[id]
		if !sameTags(want, have) {
			if err := m.fw.queueDelete(have); err != nil {
				errs = append(errs, err)
			}
			for _, r := range want {
				m.fw.queueAddPort(r)
			}
		}
	}
	if err := m.fw.flush(); err != nil {
		errs = append(errs, err)
	}

	// veths
	keep := map[string]bool{}
	for id := range running {
		if ep := byID[id]; ep != nil && ep.UsesBridge() {
			keep[ep.HostVeth] = true
		}
	}
	brIdx := map[int]bool{}
	for _, n := range nets {
		if i, err := m.bridgeIndex(n.Bridge); err == nil {
			brIdx[i] = true
		}
	}
	links, err := m.linkList()
	if err != nil {
		errs = append(errs, err)
	}
	present := map[string]bool{}
	for _, l := range links {
		a := l.Attrs()
		if l.Type() != "veth" || !brIdx[a.MasterIndex] {
			continue
		}
		if keep[a.Name] {
			present[a.Name] = true
			continue
		}
		m.deleteLinkAsync(l)
	}
	m.attached = map[string]string{}
	for id, path := range running {
		ep := byID[id]
		if ep == nil {
			continue
		}
		if ep.UsesBridge() && !present[ep.HostVeth] {
			if !isNetNS(path) {
				errs = append(errs, fmt.Errorf("container %s: network namespace %s is gone", displayName(ep), path))
				continue
			}
			logrus.Warnf("network: container %s lost its veth: recreating it", displayName(ep))
			if err := m.createVeth(ep, path); err != nil {
				errs = append(errs, err)
				continue
			}
			waitForwarding(ep.HostVeth)
		}
		m.attached[id] = path
		if ep.UsesBridge() {
			m.redirectPorts(ep, true)
		}
	}
	for _, n := range nets {
		if n.Name != DefaultNetwork {
			m.refreshHosts(n.Name, nil)
		}
	}
	m.bg.Wait() // stale veths are gone when Reconcile returns
	return errors.Join(errs...)
}

func sameTags(want []portRule, have []existingPortRule) bool {
	if len(want) != len(have) {
		return false
	}
	a := make([]string, 0, len(want))
	for _, r := range want {
		a = append(a, r.tag)
	}
	b := make([]string, 0, len(have))
	for _, r := range have {
		b = append(b, r.tag)
	}
	sort.Strings(a)
	sort.Strings(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
