package shim

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// Cleanup removes a container whose shim is gone (or hung): it kills a
// shim still running for the bundle, kills every process of the container,
// destroys it (cgroups, libcontainer state under stateRoot) and removes the
// shim's sockets. It does not touch the bundle's config, rootfs, log or
// exit file. It is safe to call on a container that is already clean.
func Cleanup(stateRoot, bundle, id string) error {
	if err := validID(id); err != nil {
		return err
	}
	var errs []error
	killShim(bundle)

	var cgroupPath string
	if s, err := readSpec(bundle); err == nil && s.Linux != nil {
		cgroupPath = s.Linux.CgroupsPath
	}
	c, err := libcontainer.Load(stateRoot, id)
	switch {
	case err == nil:
		if cfg := c.Config(); cfg.Cgroups != nil && cfg.Cgroups.Path != "" {
			cgroupPath = cfg.Cgroups.Path
		}
		if st, err := c.Status(); err == nil && st == libcontainer.Paused {
			_ = c.Resume()
		}
		_ = c.Signal(unix.SIGKILL)
		if cgroupPath != "" {
			killCgroup(cgroupPath)
		}
		var derr error
		for i := 0; i < 50; i++ {
			if derr = c.Destroy(); derr == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if derr != nil {
			errs = append(errs, derr)
		}
	case errors.Is(err, libcontainer.ErrNotExist):
	default:
		errs = append(errs, err)
	}
	if cgroupPath != "" {
		if err := removeCgroup(cgroupPath); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(stateRoot, id)); err != nil {
		errs = append(errs, err)
	}
	removeSockets(bundle)
	return errors.Join(errs...)
}

// killShim SIGKILLs the shim recorded in <bundle>/shim.pid if that process
// still is a shim for this bundle.
func killShim(bundle string) {
	pid := readPidFile(bundle)
	if pid <= 1 {
		return
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return
	}
	args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
	if len(args) < 2 || string(args[1]) != "shim" {
		return
	}
	// A shim started as a spare (Standby) has no --bundle argument, but
	// every shim works in its bundle directory.
	if !hasArg(args, "--bundle", bundle) {
		if cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd"); err != nil || cwd != bundle {
			return
		}
	}
	_ = unix.Kill(pid, unix.SIGKILL)
	for i := 0; i < 100; i++ {
		if dead(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPidFile returns the pid in <bundle>/shim.pid, or 0.
func readPidFile(bundle string) int {
	b, err := os.ReadFile(filepath.Join(bundle, pidFileName))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

func hasArg(args [][]byte, flag, value string) bool {
	for i := 0; i+1 < len(args); i++ {
		if string(args[i]) == flag && string(args[i+1]) == value {
			return true
		}
	}
	return false
}

// cgroupDirs lists the directories of a cgroup path in every mounted
// hierarchy (v1 controllers, and the v2 unified one).
func cgroupDirs(path string) []string {
	var dirs []string
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		fstype := strings.Fields(post)
		f := strings.Fields(pre)
		if len(fstype) == 0 || len(f) < 5 || (fstype[0] != "cgroup" && fstype[0] != "cgroup2") {
			continue
		}
		d := filepath.Join(f[4], path)
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// killCgroup SIGKILLs every process in the cgroup (all hierarchies,
// including sub-cgroups) and waits for them to leave it.
func killCgroup(path string) {
	for i := 0; i < 100; i++ {
		n := 0
		for _, d := range cgroupDirs(path) {
			_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
				if err != nil || !e.IsDir() {
					return nil
				}
				b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil {
						n++
						_ = unix.Kill(pid, unix.SIGKILL)
					}
				}
				// A frozen task dies only when thawed (v1 freezer).
				if st, err := os.ReadFile(filepath.Join(p, "freezer.state")); err == nil && !bytes.HasPrefix(st, []byte("THAWED")) {
					_ = os.WriteFile(filepath.Join(p, "freezer.state"), []byte("THAWED"), 0)
				}
				return nil
			})
		}
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeCgroup kills what is left in the cgroup and removes its
// directories (deepest first) from every hierarchy.
func removeCgroup(path string) error {
	killCgroup(path)
	var errs []error
	for _, d := range cgroupDirs(path) {
		var sub []string
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				sub = append(sub, p)
			}
			return nil
		})
		for i := len(sub) - 1; i >= 0; i-- {
			var err error
			for try := 0; try < 50; try++ {
				if err = unix.Rmdir(sub[i]); err == nil || err == unix.ENOENT {
					err = nil
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, &os.PathError{Op: "rmdir", Path: sub[i], Err: err})
			}
		}
	}
	return errors.Join(errs...)
}

func removeSockets(bundle string) {
	os.Remove(SocketPath(bundle))
	os.Remove(AttachSocketPath(bundle, ""))
	os.Remove(filepath.Join(bundle, pidFileName))
	if m, _ := filepath.Glob(filepath.Join(bundle, "exec-*.sock")); m != nil {
		for _, f := range m {
			os.Remove(f)
		}
	}
}
