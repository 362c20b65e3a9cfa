package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func netlinkHandleAt(fd int) (*netlink.Handle, error) {
	return netlink.NewHandleAt(netns.NsHandle(fd), unix.NETLINK_ROUTE)
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}

func setSysctl(path, val string) error {
	return os.WriteFile(filepath.Join(procSys, path), []byte(val+"\n"), 0o644)
}

// ensureBridge creates the network's bridge if missing and makes sure it has
// exactly the gateway address, route_localnet=1 (for DNAT from 127.0.0.1)
// and is up. Must be called with m.mu held or before the manager is shared.
func (m *Manager) ensureBridge(n *Network) error {
	gw := net.ParseIP(n.Gateway).To4()
	_, sn, err := net.ParseCIDR(n.Subnet)
	if gw == nil || err != nil {
		return fmt.Errorf("network %s: bad subnet %q or gateway %q", n.Name, n.Subnet, n.Gateway)
	}
	link, err := m.nl.LinkByName(n.Bridge)
	if err != nil {
		if !isNotFound(err) {
			return fmt.Errorf("bridge %s: %w", n.Bridge, err)
		}
		routes, err := m.hostRoutes()
		if err != nil {
			return err
		}
		for _, r := range routes {
			if netsOverlap(r.dst, sn) {
				return fmt.Errorf("network %s: subnet %s overlaps the host's route %s dev %s", n.Name, sn, r.dst, r.dev)
			}
		}
		la := netlink.NewLinkAttrs()
		la.Name, la.MTU, la.HardwareAddr = n.Bridge, m.cfg.MTU, macFromIP(gw)
		if err := m.nl.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create bridge %s: %w", n.Bridge, err)
		}
		if link, err = m.nl.LinkByName(n.Bridge); err != nil {
			return fmt.Errorf("bridge %s: %w", n.Bridge, err)
		}
	} else if link.Type() != "bridge" {
		return fmt.Errorf("%s exists and is not a bridge (it is a %s)", n.Bridge, link.Type())
	}
	addrs, err := m.nl.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("bridge %s: list addresses: %w", n.Bridge, err)
	}
	have := false
	for _, a := range addrs {
		if a.IP.Equal(gw) && a.Mask.String() == sn.Mask.String() {
			have = true
			continue
		}
		// our bridge, an address from an older bip: drop it
		if err := m.nl.AddrDel(link, &a); err != nil {
			return fmt.Errorf("bridge %s: remove old address %s: %w", n.Bridge, a.IPNet, err)
		}
	}
	if !have {
		if err := m.nl.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: gw, Mask: sn.Mask}}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("bridge %s: add address %s: %w", n.Bridge, n.Gateway, err)
		}
	}
	if err := setSysctl("net/ipv4/conf/"+n.Bridge+"/route_localnet", "1"); err != nil {
		return fmt.Errorf("bridge %s: enable route_localnet (needed for ports on 127.0.0.1): %w", n.Bridge, err)
	}
	// ARP requests for a container must not carry the source of the packet
	// that triggered them when it is 127.0.0.1 (DNAT from the host's
	// loopback): the container would ignore them as martian and the first
	// connection would stall. 2 = always the bridge's own address.
	if err := setSysctl("net/ipv4/conf/"+n.Bridge+"/arp_announce", "2"); err != nil {
		return fmt.Errorf("bridge %s: set arp_announce: %w", n.Bridge, err)
	}
	if err := m.nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("bridge %s: set up: %w", n.Bridge, err)
	}
	m.bridgeIdx[n.Bridge] = link.Attrs().Index
	return nil
}

func (m *Manager) deleteBridge(name string) {
	delete(m.bridgeIdx, name)
	if l, err := m.nl.LinkByName(name); err == nil && l.Type() == "bridge" {
		_ = m.nl.LinkDel(l)
	}
}

func (m *Manager) bridgeIndex(name string) (int, error) {
	if i, ok := m.bridgeIdx[name]; ok {
		return i, nil
	}
	l, err := m.nl.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("bridge %s: %w", name, err)
	}
	m.bridgeIdx[name] = l.Attrs().Index
	return l.Attrs().Index, nil
}

type hostRoute struct {
	dst *net.IPNet
	dev string
}

// hostRoutes lists the host's IPv4 routes of the main table but the default
// route, naming their devices.
func (m *Manager) hostRoutes() ([]hostRoute, error) {
	var routes []netlink.Route
	var err error
	for i := 0; i < 5; i++ {
		routes, err = m.nl.RouteList(nil, netlink.FAMILY_V4)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	names := map[int]string{}
	if links, err := m.linkList(); err == nil {
		for _, l := range links {
			names[l.Attrs().Index] = l.Attrs().Name
		}
	}
	var out []hostRoute
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		if ones, _ := r.Dst.Mask.Size(); ones == 0 {
			continue
		}
		out = append(out, hostRoute{dst: r.Dst, dev: names[r.LinkIndex]})
	}
	return out, nil
}

func (m *Manager) linkList() ([]netlink.Link, error) {
	var links []netlink.Link
	var err error
	for i := 0; i < 5; i++ {
		links, err = m.nl.LinkList()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return links, err
}

// createVeth makes the endpoint's veth pair: the host side on the bridge,
// the other end created directly inside the namespace as eth0 with the
// endpoint's MAC, address and default route.
func (m *Manager) createVeth(ep *Endpoint, netnsPath string) error {
	brIdx, err := m.bridgeIndex(ep.Bridge)
	if err != nil {
		return err
	}
	ip := net.ParseIP(ep.IPAddress).To4()
	gw := net.ParseIP(ep.Gateway).To4()
	mac, err := net.ParseMAC(ep.MacAddress)
	if ip == nil || gw == nil || err != nil {
		return fmt.Errorf("endpoint of %s: bad address, gateway or MAC", ep.ContainerID)
	}
	return withNetNSHandle(netnsPath, func(h *netlink.Handle, nsfd int) error {
		la := netlink.NewLinkAttrs()
		la.Name, la.MTU, la.MasterIndex, la.Flags = ep.HostVeth, m.cfg.MTU, brIdx, net.FlagUp
		veth := &netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerHardwareAddr: mac,
			PeerNamespace: netlink.NsFd(nsfd), PeerMTU: uint32(m.cfg.MTU)}
		err := m.nl.LinkAdd(veth)
		if errors.Is(err, unix.EEXIST) {
			// a host side being deleted in the background or left by a
			// crash, or eth0 exists in the namespace
			m.bg.Wait()
			m.deleteLink(ep.HostVeth)
			if l, e := h.LinkByName("eth0"); e == nil {
				_ = h.LinkDel(l)
			}
			veth.Index = 0
			err = m.nl.LinkAdd(veth)
		}
		if err != nil {
			return fmt.Errorf("create veth %s: %w", ep.HostVeth, err)
		}
		fail := func(e error) error {
			m.deleteLink(ep.HostVeth)
			return e
		}
		// hairpin: with br_netfilter, a DNATed connection from a container
		// to a port published by itself is bridged back out of its port
		if err := m.nl.LinkSetHairpin(veth, true); err != nil {
			return fail(fmt.Errorf("veth %s: hairpin: %w", ep.HostVeth, err))
		}
		eth0, err := h.LinkByName("eth0")
		if err != nil {
			return fail(fmt.Errorf("eth0 in %s: %w", netnsPath, err))
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(ep.PrefixLen, 32)}}
		if err := h.AddrAdd(eth0, addr); err != nil {
			return fail(fmt.Errorf("eth0: add address %s: %w", addr.IPNet, err))
		}
		if err := h.LinkSetUp(eth0); err != nil {
			return fail(fmt.Errorf("eth0: set up: %w", err))
		}
		if err := h.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: gw}); err != nil {
			return fail(fmt.Errorf("eth0: default route via %s: %w", gw, err))
		}
		return nil
	})
}

// deleteLinkAsync deletes a link in the background: unregistering a device
// waits for RCU grace periods (~20 ms here), which Detach need not wait for.
// The link is deleted by index, so a new link of the same name is safe.
func (m *Manager) deleteLinkAsync(l netlink.Link) {
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
			logrus.Warnf("network: delete %s: %v", l.Attrs().Name, err)
		}
	}()
}

// deleteLink deletes a link of the host by name; a missing one is fine.
func (m *Manager) deleteLink(name string) {
	if l, err := m.nl.LinkByName(name); err == nil {
		_ = m.nl.LinkDel(l)
	}
}

// waitForwarding waits (a few hundred µs, at most 100 ms) until the bridge
// forwards through a new port. The kernel enables the port asynchronously
// once the veth's carrier is seen up; a frame sent before (the container's
// first ARP, the first SYN to a published port) is dropped and costs a one
// second retransmission.
func waitForwarding(veth string) {
	p := filepath.Join("/sys/class/net", veth, "brport/state")
	deadline := time.Now().Add(100 * time.Millisecond)
	for {
		b, err := os.ReadFile(p)
		if err != nil || strings.TrimSpace(string(b)) == "3" { // BR_STATE_FORWARDING
			return
		}
		if time.Now().After(deadline) {
			logrus.Debugf("network: bridge port %s not forwarding after 100ms", veth)
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}
