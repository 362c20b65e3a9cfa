package shim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ctrd/ctrd/runtime/seccompcache"
	"github.com/ctrd/ctrd/runtime/spec"
)

// TestDockerDefaultSpec runs a container from the full Docker-like spec of
// runtime/spec: seccomp filter, masked paths, device rules, cgroup limits,
// a non-root user.
func TestDockerDefaultSpec(t *testing.T) {
	if !seccomp.Enabled {
		t.Skip("built without -tags seccomp")
	}
	c := newCtr(t)
	s, err := spec.Generate(spec.Options{
		ID:          c.id,
		Rootfs:      c.spec.Root.Path,
		Cmd:         []string{"sh", "-c", "id -u; id -g; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; cat /proc/kcore 2>&1 | head -c 0; ulimit -n; hostname"},
		User:        "nobody",
		Memory:      64 << 20,
		PidsLimit:   100,
		CgroupsPath: cgroupParent + "/" + c.id,
		Hostname:    "spec-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	c.spec = s
	c.run()
	if st := c.wait(); st.Code != 0 {
		t.Fatalf("exit %d; log %+v", st.Code, c.logLines())
	}
	got := c.logText()
	for _, want := range []string{"65534\n65534\n", "Seccomp:\t2\n", "spec-test\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

// TestSeccompFilterFromBundle runs containers with a compiled filter in
// their bundle: the init loads it when it was made for the container's
// configuration, and the shim drops it when it was not. The compiled
// program denies mkdir, which the configuration allows, so the container
// shows which filter it got.
func TestSeccompFilterFromBundle(t *testing.T) {
	if !seccompcache.Supported {
		t.Skip("built without -tags seccomp")
	}
	for _, tc := range []struct {
		name      string
		forConfig bool // the file's key is the container's configuration's
		wantMkdir string
	}{
		{"made for it", true, "mkdir denied\n"},
		{"made for another", false, "mkdir allowed\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCtr(t)
			s, err := spec.Generate(spec.Options{
				ID:          c.id,
				Rootfs:      c.spec.Root.Path,
				Cmd:         []string{"sh", "-c", "mkdir /tmp/d 2>/dev/null && echo mkdir allowed || echo mkdir denied"},
				CgroupsPath: cgroupParent + "/" + c.id,
			})
			if err != nil {
				t.Fatal(err)
			}
			c.spec = s
			own := seccompConfig(t, s.Linux.Seccomp)
			noMkdir := *s.Linux.Seccomp
			noMkdir.Syscalls = nil
			for _, sc := range s.Linux.Seccomp.Syscalls {
				sc.Names = slices.DeleteFunc(slices.Clone(sc.Names), func(n string) bool { return n == "mkdir" || n == "mkdirat" })
				noMkdir.Syscalls = append(noMkdir.Syscalls, sc)
			}
			other := seccompConfig(t, &noMkdir)
			prog, err := seccompcache.Compile(other)
			if err != nil {
				t.Fatal(err)
			}
			keyFor := other
			if tc.forConfig {
				keyFor = own
			}
			k, err := seccompcache.KeyOf(keyFor)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(c.bundle, seccompcache.FileName)
			if err := os.WriteFile(file, seccompcache.Encode(k, prog), 0o600); err != nil {
				t.Fatal(err)
			}
			c.run()
			if st := c.wait(); st.Code != 0 {
				t.Fatalf("exit %d; log %+v", st.Code, c.logLines())
			}
			if got := c.logText(); got != tc.wantMkdir {
				t.Errorf("container said %q, want %q", got, tc.wantMkdir)
			}
			if _, err := os.Stat(file); tc.forConfig == os.IsNotExist(err) {
				t.Errorf("filter file kept: %v, want %v", err == nil, tc.forConfig)
			}
		})
	}
}

// seccompConfig is libcontainer's configuration for p, as the shim makes
// it from the spec's JSON.
func seccompConfig(t *testing.T, p *specs.LinuxSeccomp) *configs.Seccomp {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var rt specs.LinuxSeccomp
	if err := json.Unmarshal(b, &rt); err != nil {
		t.Fatal(err)
	}
	cfg, err := specconv.SetupSeccomp(&rt)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
