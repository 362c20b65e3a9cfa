package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hostDevices lists the host's device nodes for a privileged container, as
// Docker does. Tests replace it.
var hostDevices = func() ([]specs.LinuxDevice, error) { return listDevices("/dev") }

// listDevices walks dir for character and block devices. It skips what the
// container gets its own instance of (pts, shm, mqueue, console, ptmx) and
// does not follow symlinks.
func listDevices(dir string) ([]specs.LinuxDevice, error) {
	out := []specs.LinuxDevice{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "pts", "shm", "mqueue", "fd", ".lxc", ".lxd-mounts", ".udev":
				if p != dir {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if d.Type()&fs.ModeDevice == 0 {
			return nil
		}
		if p == filepath.Join(dir, "console") || p == filepath.Join(dir, "ptmx") {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return nil // vanished
		}
		var typ string
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			typ = "c"
		case unix.S_IFBLK:
			typ = "b"
		default:
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil
		}
		mode := os.FileMode(st.Mode & 0o7777)
		uid, gid := st.Uid, st.Gid
		out = append(out, specs.LinuxDevice{
			Path:     "/dev/" + filepath.ToSlash(rel),
			Type:     typ,
			Major:    int64(unix.Major(uint64(st.Rdev))),
			Minor:    int64(unix.Minor(uint64(st.Rdev))),
			FileMode: &mode,
			UID:      &uid,
			GID:      &gid,
		})
		return nil
	})
	return out, err
}
