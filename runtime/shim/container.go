package shim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ctrd/ctrd/runtime/rlimit"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/apparmor"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func readSpec(bundle string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(bundle, configFileName))
	if err != nil {
		return nil, err
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", configFileName, err)
	}
	if s.Process == nil {
		return nil, errors.New("spec has no process")
	}
	return &s, nil
}

// canRaiseRlimits reports whether this process has CAP_SYS_RESOURCE, i.e.
// whether hard limits above its own are allowed.
func canRaiseRlimits() bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<unix.CAP_SYS_RESOURCE) != 0
		}
	}
	return false
}

// processFromSpec converts an OCI process into a libcontainer one (which
// specconv does not do). Rlimits above what this process may set are
// lowered to its own hard limit, with a note in the shim log, rather than
// failing the start with EPERM.
func processFromSpec(p *specs.Process) (*libcontainer.Process, error) {
	if len(p.Args) == 0 {
		return nil, errors.New("process has no args")
	}
	nnp := p.NoNewPrivileges
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		Label:           p.SelinuxLabel,
		NoNewPrivileges: &nnp,
		Scheduler:       p.Scheduler,
		IOPriority:      p.IOPriority,
	}
	if lp.Cwd == "" {
		lp.Cwd = "/"
	}
	if p.ApparmorProfile != "" && apparmor.IsEnabled() {
		lp.AppArmorProfile = p.ApparmorProfile
	}
	if p.ConsoleSize != nil {
		lp.ConsoleWidth = uint16(p.ConsoleSize.Width)
		lp.ConsoleHeight = uint16(p.ConsoleSize.Height)
	}
	if c := p.Capabilities; c != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding:    c.Bounding,
			Effective:   c.Effective,
			Inheritable: c.Inheritable,
			Permitted:   c.Permitted,
			Ambient:     c.Ambient,
		}
	}
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	raise := len(p.Rlimits) > 0 && canRaiseRlimits()
	for _, r := range p.Rlimits {
		t, ok := rlimit.Resource(r.Type)
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q", r.Type)
		}
		rl := configs.Rlimit{Type: t, Hard: r.Hard, Soft: r.Soft}
		if !raise {
			var cur unix.Rlimit
			if err := unix.Getrlimit(t, &cur); err == nil && rl.Hard > cur.Max {
				logf("lowering %s hard limit %d to %d (no CAP_SYS_RESOURCE)", r.Type, rl.Hard, cur.Max)
				rl.Hard = cur.Max
			}
		}
		if rl.Soft > rl.Hard {
			rl.Soft = rl.Hard
		}
		lp.Rlimits = append(lp.Rlimits, rl)
	}
	return lp, nil
}
