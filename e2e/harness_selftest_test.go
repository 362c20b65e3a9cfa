package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHarnessCleanup plants what a crashed daemon could leave behind —
// nested mounts, a cgroup with a task, a shim-like process, a bridge with a
// veth, an nft table — and checks that the harness removes all of it.
func TestHarnessCleanup(t *testing.T) {
	t.Parallel()
	d := newDaemon(t)
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v %s", name, args, err, out)
		}
	}

	m1 := filepath.Join(d.DataRoot, "m1")
	m2 := filepath.Join(m1, "m2")
	for _, m := range []string{m1, m2} {
		if err := os.MkdirAll(m, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", m, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
	}
	lower, upper, work, merged := filepath.Join(m2, "l"), filepath.Join(m2, "u"), filepath.Join(m2, "w"), filepath.Join(d.ExecRoot, "merged")
	for _, p := range []string{lower, upper, work, merged} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work); err != nil {
		t.Fatal(err)
	}

	// A "shim" (its command line names the exec-root) and a "container"
	// in a cgroup below the daemon's parent.
	shim := exec.Command("/bin/sh", "-c", "sleep 600", filepath.Join(d.ExecRoot, "shim"))
	ctr := exec.Command("sleep", "600")
	for _, c := range []*exec.Cmd{shim, ctr} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		go func(c *exec.Cmd) { _ = c.Wait() }(c)
	}
	cg := filepath.Join("/sys/fs/cgroup/pids", d.CgroupParent, "c1")
	if err := os.MkdirAll(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(ctr.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}

	veth := "v" + d.Bridge
	run("ip", "link", "add", d.Bridge, "type", "bridge")
	run("ip", "link", "add", veth, "type", "veth", "peer", "name", veth+"p")
	run("ip", "link", "set", veth, "master", d.Bridge)
	haveNft := exec.Command("nft", "--version").Run() == nil
	if haveNft {
		run("nft", "add", "table", "inet", "ctrd_"+d.Bridge)
	}

	for _, err := range d.removeAll() {
		t.Errorf("removeAll: %v", err)
	}

	if left := mountsUnder([]string{d.Root}); len(left) > 0 {
		t.Errorf("mounts left: %v", left[0].Mountpoint)
	}
	for _, c := range []*exec.Cmd{shim, ctr} {
		if !isZombie(c.Process.Pid) {
			t.Errorf("process %v still alive", c.Args)
		}
	}
	if dirs := d.cgroupDirs(); len(dirs) > 0 {
		t.Errorf("cgroups left: %v", dirs)
	}
	for _, l := range []string{d.Bridge, veth, veth + "p"} {
		if linkExists(l) {
			t.Errorf("link %s left", l)
		}
	}
	if haveNft {
		if out, _ := exec.Command("nft", "list", "tables").Output(); strings.Contains(string(out), d.Bridge) {
			t.Errorf("nft table left:\n%s", out)
		}
	}
	if _, err := os.Stat(d.Root); !os.IsNotExist(err) {
		t.Errorf("%s left: %v", d.Root, err)
	}
}
