package network

import (
	"net"

	"github.com/sirupsen/logrus"

	"github.com/ctrd/ctrd/network/sockredirect"
)

// startLoopbackRedirect attaches the connect() redirection of published
// ports on 127.0.0.1 (see package sockredirect), once, when a port is first
// published: a daemon that publishes none does not load it (~2 MB of its
// binary paged in). Without it (no cgroup v2 hierarchy, no BPF), those
// connections go through the nftables rules, which are there either way.
// m.mu is held.
func (m *Manager) startLoopbackRedirect() {
	if m.loopbackTried {
		return
	}
	m.loopbackTried = true
	root := sockredirect.CgroupRoot()
	if root == "" {
		logrus.Debug("network: no cgroup v2 hierarchy: published ports on 127.0.0.1 are reached through NAT")
		return
	}
	r, err := sockredirect.New(root)
	if err != nil {
		logrus.WithError(err).Debug("network: published ports on 127.0.0.1 are reached through NAT")
		return
	}
	m.loopback = r
}

// loopbackPorts calls fn for every TCP port of ep reachable on 127.0.0.1
// (published on every address or on 127.0.0.1), with the container's port
// it goes to.
func loopbackPorts(ep *Endpoint, fn func(hostPort, containerPort int)) {
	for _, b := range ep.Ports {
		if b.Proto != "tcp" || (b.HostIP != "" && b.HostIP != "0.0.0.0" && b.HostIP != "127.0.0.1") {
			continue
		}
		for i := 0; b.HostPort+i <= max(b.HostPort, b.HostPortEnd); i++ {
			fn(b.HostPort+i, b.ContainerPort+i)
		}
	}
}

// redirectLoopback starts (on) or stops redirecting the loopback ports of
// an attached endpoint (m.mu held). A failure only leaves the connections
// to NAT.
func (m *Manager) redirectLoopback(ep *Endpoint, on bool) {
	ip := net.ParseIP(ep.IPAddress).To4()
	if ip == nil || len(ep.Ports) == 0 {
		return
	}
	if on {
		m.startLoopbackRedirect()
	}
	if m.loopback == nil {
		return
	}
	loopbackPorts(ep, func(hostPort, containerPort int) {
		var err error
		if on {
			err = m.loopback.Set(hostPort, ip, containerPort)
		} else {
			err = m.loopback.Delete(hostPort)
		}
		if err != nil {
			logrus.WithError(err).WithField("port", hostPort).Warn("network: loopback redirection")
		}
	})
}
