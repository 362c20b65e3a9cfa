package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/network"
	"github.com/ctrd/ctrd/runtime/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// networkMode is the container's --network, "bridge" by default.
func networkMode(hc *types.HostConfig) string {
	if hc.NetworkMode == "" || hc.NetworkMode == "default" {
		return network.DefaultNetwork
	}
	return hc.NetworkMode
}

// validateNetworking checks networking options at create, so that a bad
// one leaves nothing behind.
func (d *Daemon) validateNetworking(hc *types.HostConfig) error {
	if _, err := network.ParsePortSpecs(hc.PortSpecs); err != nil {
		return err
	}
	switch mode := networkMode(hc); mode {
	case network.DefaultNetwork, network.HostNetwork, network.NoneNetwork:
	default:
		if _, err := d.network.Network(mode); err != nil {
			return errdefs.NotFound(fmt.Errorf("network %s not found", mode))
		}
	}
	for _, s := range hc.DNS {
		if net.ParseIP(s) == nil {
			return fmt.Errorf("%s is not an ip address (--dns)", s)
		}
	}
	for _, h := range hc.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" || (ip != "host-gateway" && net.ParseIP(ip) == nil) {
			return fmt.Errorf("invalid argument %q for \"--add-host\" flag: use HOST:IP", h)
		}
	}
	return nil
}

// setupNetwork allocates the container's address and ports, creates its
// network namespace and attaches it, and adds the hosts, resolv.conf and
// hostname files to its spec.
func (d *Daemon) setupNetwork(c *container, o *spec.Options) (retErr error) {
	rec := &c.rec
	hc := &rec.HostConfig
	ports, err := network.ParsePortSpecs(hc.PortSpecs)
	if err != nil {
		return errdefs.InvalidArgument(err)
	}
	var exposed []string
	for p := range rec.Config.ExposedPorts {
		exposed = append(exposed, p)
	}
	sort.Strings(exposed)
	ep, err := d.network.Allocate(network.EndpointOptions{
		ContainerID:   rec.ID,
		ContainerName: rec.Name,
		Hostname:      rec.Config.Hostname,
		Network:       networkMode(hc),
		Ports:         ports,
		PublishAll:    hc.PublishAllPorts,
		Exposed:       exposed,
		DNS:           hc.DNS,
		DNSSearch:     hc.DNSSearch,
		DNSOptions:    hc.DNSOptions,
		ExtraHosts:    hc.ExtraHosts,
	})
	if err != nil {
		if strings.Contains(err.Error(), "already allocated") || strings.Contains(err.Error(), "in use") {
			return errdefs.Conflict(err)
		}
		return errdefs.InvalidArgument(err)
	}
	defer func() {
		if retErr != nil {
			d.releaseNetwork(rec.ID, true)
		}
	}()
	path := d.network.NetNSPath(rec.ID)
	if ep.NeedsNetNS() {
		if err := network.CreateNetNS(path); err != nil {
			return fmt.Errorf("create network namespace: %w", err)
		}
		o.NetNSPath = path
	} else {
		o.NetNSPath = spec.NetNSHost
	}
	// The veth and port rules are made while the shim creates the
	// container (prepareLocked): the namespace exists, and nothing runs in
	// it before the user process starts.
	c.attachNetwork = func() error {
		if err := d.network.Attach(ep, path); err != nil {
			return fmt.Errorf("attach network: %w", err)
		}
		return nil
	}
	resolv, hosts, hostname, err := d.network.WriteFiles(ep, d.containerDir(rec.ID))
	if err != nil {
		return err
	}
	for _, f := range []struct{ src, dst string }{{resolv, "/etc/resolv.conf"}, {hosts, "/etc/hosts"}, {hostname, "/etc/hostname"}} {
		o.Mounts = append(o.Mounts, specs.Mount{Destination: f.dst, Type: "bind", Source: f.src, Options: []string{"rbind", "rprivate"}})
	}
	return nil
}

// networkFiles is called while the spec is built.
func (d *Daemon) networkFiles(c *container, rootfs string, o *spec.Options) error {
	return d.setupNetwork(c, o)
}

// releaseNetwork detaches a stopped container and, with freeAddress, frees
// its address and ports: they are held only while it runs. Idempotent, and
// cheap when nothing is held (it runs on every stop and removal).
func (d *Daemon) releaseNetwork(id string, freeAddress bool) {
	log := logrus.WithField("container", id[:12])
	path := d.network.NetNSPath(id)
	ep, err := d.network.Endpoint(id)
	if err != nil || ep == nil {
		if _, err := os.Lstat(path); err == nil {
			_ = network.RemoveNetNS(path)
		}
		return
	}
	if err := d.network.Detach(ep); err != nil {
		log.WithError(err).Warn("detach network")
	}
	if err := network.RemoveNetNS(path); err != nil {
		log.WithError(err).Warn("remove network namespace")
	}
	if !freeAddress {
		return
	}
	if err := d.network.Release(id); err != nil {
		log.WithError(err).Warn("release network")
	}
}

// fillNetworkSettings adds NetworkSettings to `ctr inspect`.
func (d *Daemon) fillNetworkSettings(c *container, doc *types.ContainerJSON) {
	ns := &types.NetworkSettings{Ports: map[string][]types.PortBinding{}, Networks: map[string]*types.EndpointSettings{}}
	doc.NetworkSettings = ns
	for p := range c.rec.Config.ExposedPorts {
		ns.Ports[p] = nil
	}
	if c.shim == nil {
		return
	}
	ep, err := d.network.Endpoint(c.rec.ID)
	if err != nil || ep == nil {
		return
	}
	ns.SandboxKey = ep.NetNSPath
	if ns.SandboxKey == "" && ep.NeedsNetNS() {
		ns.SandboxKey = d.network.NetNSPath(c.rec.ID)
	}
	ns.Bridge = ep.Bridge
	for _, p := range ep.Ports {
		for i := 0; i <= portSpan(p); i++ {
			key := fmt.Sprintf("%d/%s", p.ContainerPort+i, p.Proto)
			ns.Ports[key] = append(ns.Ports[key], types.PortBinding{HostIP: hostIP(p.HostIP), HostPort: strconv.Itoa(p.HostPort + i)})
		}
	}
	if ep.IPAddress != "" {
		ns.IPAddress, ns.IPPrefixLen, ns.Gateway, ns.MacAddress = ep.IPAddress, ep.PrefixLen, ep.Gateway, ep.MacAddress
	}
	ns.Networks[ep.Network] = &types.EndpointSettings{
		NetworkID: ep.NetworkID, EndpointID: ep.ContainerID, Gateway: ep.Gateway, IPAddress: ep.IPAddress,
		IPPrefixLen: ep.PrefixLen, MacAddress: ep.MacAddress, Aliases: ep.Aliases,
	}
}

func portSpan(p network.PortBinding) int {
	if p.HostPortEnd > p.HostPort {
		return p.HostPortEnd - p.HostPort
	}
	return 0
}

func hostIP(s string) string {
	if s == "" {
		return "0.0.0.0"
	}
	return s
}

// summaryPorts lists a container's ports for `ctr ps`: published ones while
// it runs, and exposed ones.
func (d *Daemon) summaryPorts(c *container) []types.Port {
	var out []types.Port
	published := map[string]bool{}
	if c.shim != nil {
		if ep, err := d.network.Endpoint(c.rec.ID); err == nil && ep != nil {
			for _, p := range ep.Ports {
				for i := 0; i <= portSpan(p); i++ {
					out = append(out, types.Port{IP: hostIP(p.HostIP), PrivatePort: uint16(p.ContainerPort + i), PublicPort: uint16(p.HostPort + i), Type: p.Proto})
					published[fmt.Sprintf("%d/%s", p.ContainerPort+i, p.Proto)] = true
				}
			}
		}
	}
	var exposed []string
	for p := range c.rec.Config.ExposedPorts {
		if !published[p] {
			exposed = append(exposed, p)
		}
	}
	sort.Strings(exposed)
	for _, p := range exposed {
		num, proto, _ := strings.Cut(p, "/")
		n, _ := strconv.Atoi(num)
		out = append(out, types.Port{PrivatePort: uint16(n), Type: proto})
	}
	return out
}

type networksService struct{ d *Daemon }

func networkJSON(v interface{}) (*api.NetworkResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &api.NetworkResponse{Json: b}, nil
}

func (s *networksService) Create(ctx context.Context, req *api.CreateNetworkRequest) (*api.NetworkResponse, error) {
	if req.Driver != "" && req.Driver != "bridge" {
		return nil, errdefs.InvalidArgument(fmt.Errorf("network driver %q is not supported: only bridge", req.Driver))
	}
	if req.Name == "" {
		return nil, errdefs.InvalidArgument(errors.New("network name is required"))
	}
	n, err := s.d.network.CreateNetwork(req.Name, req.Subnet, req.Gateway)
	if err != nil {
		if strings.Contains(err.Error(), "already exists") {
			return nil, errdefs.Conflict(err)
		}
		return nil, errdefs.InvalidArgument(err)
	}
	return networkJSON(n)
}

func (s *networksService) List(ctx context.Context, _ *api.Empty) (*api.NetworkResponse, error) {
	ns, err := s.d.network.Networks()
	if err != nil {
		return nil, err
	}
	return networkJSON(ns)
}

func (s *networksService) Inspect(ctx context.Context, req *api.NetworkRequest) (*api.NetworkResponse, error) {
	n, err := s.d.network.Network(req.Name)
	if err != nil {
		return nil, errdefs.NotFound(err)
	}
	return networkJSON(n)
}

func (s *networksService) Remove(ctx context.Context, req *api.NetworkRequest) (*api.Empty, error) {
	if _, err := s.d.network.Network(req.Name); err != nil {
		return nil, errdefs.NotFound(err)
	}
	if err := s.d.network.RemoveNetwork(req.Name); err != nil {
		return nil, errdefs.Conflict(err)
	}
	return empty, nil
}
