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
	return siblingBinary("ctrd-init")
}

// shimBinary is the slim shim installed next to ctrd, or "" (ctrd then
// re-executes itself as the shim).
func (d *Daemon) shimBinary() string {
	p := siblingBinary("ctrd-shim")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

// siblingBinary is the path of name in ctrd's own directory.
func siblingBinary(name string) string {
	exe, err := os.Executable()
	if err != nil {
		return filepath.Join("/usr/local/bin", name)
	}
	return filepath.Join(filepath.Dir(exe), name)
}
