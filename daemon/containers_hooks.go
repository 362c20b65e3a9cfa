package daemon

import (
	"os"
	"path/filepath"

	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/restart"
)

// validateHostConfigExtra checks the restart policy, networking and volume
// options of a create request.
func (d *Daemon) validateHostConfigExtra(hc *types.HostConfig, cfg *types.Config) error {
	p := restart.Policy{Name: hc.RestartPolicy.Name, MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := restart.CheckAutoRemove(p, hc.AutoRemove); err != nil {
		return err
	}
	return d.validateNetworking(hc)
}

// initBinary is the static init run in front of the command with --init.
func (d *Daemon) initBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return "/usr/local/bin/ctrd-init"
	}
	return filepath.Join(filepath.Dir(exe), "ctrd-init")
}
