package daemon

import (
	"os"
	"path/filepath"

	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/restart"
	"github.com/ctrd/ctrd/runtime/spec"
)

// validateHostConfigExtra checks the restart policy, networking and volume
// options of a create request.
func (d *Daemon) validateHostConfigExtra(hc *types.HostConfig, cfg *types.Config) error {
	p := restart.Policy{Name: hc.RestartPolicy.Name, MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount}
	if err := p.Validate(); err != nil {
		return err
	}
	return restart.CheckAutoRemove(p, hc.AutoRemove)
}

// networkFiles adds /etc/hosts, resolv.conf and hostname to the spec.
func (d *Daemon) networkFiles(c *container, rootfs string, o *spec.Options) error { return nil }

func (d *Daemon) releaseEndpoint(c *container) {}

func (d *Daemon) releaseNetwork(c *container) {}

func (d *Daemon) fillNetworkSettings(c *container, doc *types.ContainerJSON) {
	doc.NetworkSettings = &types.NetworkSettings{Ports: map[string][]types.PortBinding{}, Networks: map[string]*types.EndpointSettings{}}
}

// initBinary is the static init run in front of the command with --init.
func (d *Daemon) initBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return "/usr/local/bin/ctrd-init"
	}
	return filepath.Join(filepath.Dir(exe), "ctrd-init")
}

// summaryPorts lists a container's ports for `ctr ps`.
func (d *Daemon) summaryPorts(c *container) []types.Port { return nil }
