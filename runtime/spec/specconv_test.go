package spec

import (
	"testing"

	"github.com/opencontainers/runc/libcontainer/specconv"
)

// The generated spec must convert to a libcontainer config (what the shim
// does), privileged or not, with every option used.
func TestSpecconvAccepts(t *testing.T) {
	for _, priv := range []bool{false, true} {
		o := baseOpts(t)
		o.Privileged = priv
		o.Memory, o.PidsLimit, o.NanoCPUs = 64<<20, 50, 5e8
		o.NetNSPath = ""
		o.Init, o.InitPath = true, "/bin/true"
		o.CapAdd = []string{"NET_ADMIN"}
		s, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
			CgroupName:      o.ID,
			Spec:            s,
			NoPivotRoot:     false,
			RootlessEUID:    false,
			RootlessCgroups: false,
		})
		if err != nil {
			t.Fatalf("privileged=%v: specconv: %v", priv, err)
		}
		if cfg.Hostname != "0123456789ab" || len(cfg.Mounts) < 7 {
			t.Fatalf("config: hostname %q mounts %d", cfg.Hostname, len(cfg.Mounts))
		}
		if !priv && cfg.Seccomp == nil {
			t.Fatal("seccomp lost in conversion")
		}
	}
}
