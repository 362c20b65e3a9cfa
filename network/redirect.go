package network

import (
	"net"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"

	"github.com/ctrd/ctrd/network/sockredirect"
)

// startRedirect attaches the connect() redirection of the host's own
// connections to published ports (see package sockredirect), once, when a
// port is first published: a daemon that publishes none does not load it.
// Without it (no cgroup v2 hierarchy, no BPF), those connections go
// through the nftables rules, which are there either way. m.mu is held.
func (m *Manager) startRedirect() {
	if m.redirectTried {
		return
	}
	m.redirectTried = true
	root := sockredirect.CgroupRoot()
	if root == "" {
		logrus.Debug("network: no cgroup v2 hierarchy: the host reaches published ports through NAT")
		return
	}
	r, err := sockredirect.New(root)
	if err != nil {
		logrus.WithError(err).Debug("network: the host reaches published ports through NAT")
		return
	}
	// The program must know the host's addresses: a connection to an
	// address that is not (or no longer) the host's is never redirected.
	updates := make(chan netlink.AddrUpdate, 16)
	m.redirectDone = make(chan struct{})
	if err := netlink.AddrSubscribeWithOptions(updates, m.redirectDone, netlink.AddrSubscribeOptions{}); err != nil {
		logrus.WithError(err).Debug("network: the host reaches published ports through NAT")
		r.Close()
		close(m.redirectDone)
		m.redirectDone = nil
		return
	}
	m.redirect = r
	m.refreshLocalAddrs()
	m.redirectStopped = make(chan struct{})
	go func() {
		defer close(m.redirectStopped)
		for u := range updates { // closed once redirectDone is
			// IPv6 events (a link-local address on every new
			// veth) change nothing here.
			if u.LinkAddress.IP.To4() != nil {
				m.refreshLocalAddrs()
			}
		}
	}()
}

// refreshLocalAddrs tells the redirection which addresses are the host's.
func (m *Manager) refreshLocalAddrs() {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4) // a socket of its own: this runs beside m.nl's users
	if err != nil {
		logrus.WithError(err).Warn("network: listing the host's addresses")
		return
	}
	ips := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		ips = append(ips, a.IP)
	}
	if err := m.redirect.SetLocalAddrs(ips); err != nil {
		logrus.WithError(err).Warn("network: the host's addresses for the redirection")
	}
}

// redirectPorts starts (on) or stops redirecting the host's connections to
// the TCP ports an attached endpoint publishes (m.mu held). A failure only
// leaves such connections to NAT.
func (m *Manager) redirectPorts(ep *Endpoint, on bool) {
	ip := net.ParseIP(ep.IPAddress).To4()
	if ip == nil || len(ep.Ports) == 0 {
		return
	}
	if on {
		m.startRedirect()
	}
	if m.redirect == nil {
		return
	}
	for _, b := range ep.Ports {
		if b.Proto != "tcp" {
			continue
		}
		var hostIP net.IP // nil: every address of the host
		if b.HostIP != "" {
			hostIP = net.ParseIP(b.HostIP)
		}
		for i := 0; b.HostPort+i <= max(b.HostPort, b.HostPortEnd); i++ {
			var err error
			if on {
				err = m.redirect.Set(b.HostPort+i, hostIP, ip, b.ContainerPort+i)
			} else {
				err = m.redirect.Delete(b.HostPort+i, hostIP)
			}
			if err != nil {
				logrus.WithError(err).WithField("port", b.HostPort+i).Warn("network: port redirection")
			}
		}
	}
}
