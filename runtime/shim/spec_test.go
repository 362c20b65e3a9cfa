package shim

import (
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/seccomp"

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
	var out strings.Builder
	for _, l := range c.logLines() {
		out.WriteString(l.Log)
	}
	got := out.String()
	for _, want := range []string{"65534\n65534\n", "Seccomp:\t2\n", "spec-test\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
