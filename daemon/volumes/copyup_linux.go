package volumes

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// copyUpLocks serialises copy-ups into the same volume directory (two
// containers starting on one new volume).
var copyUpLocks sync.Map // volumeDir -> *sync.Mutex

// CopyUp fills a new, empty volume with what the image has at containerPath
// (Docker's copy-up), keeping owners, modes, xattrs, times, symlinks,
// hardlinks, device nodes and fifos; the volume directory itself takes the
// owner, mode and xattrs of the image directory. containerPath is resolved
// inside imageRootfs (securejoin), so an image symlink cannot make it read
// the host. It does nothing when the path does not exist in the image or is
// not a directory, or when the volume is not empty.
//
// The tree is first copied into a sibling directory of volumeDir
// (<volume>/.copyup-*, removed by NewStore if a crash interrupts it), then
// its top-level entries are renamed into volumeDir: the volume directory
// keeps its identity, so a container already running on it keeps its mount.
func CopyUp(imageRootfs, containerPath, volumeDir string) error {
	src, err := securejoin.SecureJoin(imageRootfs, containerPath)
	if err != nil {
		return fmt.Errorf("copy-up %s: %w", containerPath, err)
	}
	sfi, err := os.Lstat(src)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("copy-up %s: %w", containerPath, err)
	}
	if !sfi.IsDir() {
		return nil
	}

	lock, _ := copyUpLocks.LoadOrStore(volumeDir, &sync.Mutex{})
	lock.(*sync.Mutex).Lock()
	defer lock.(*sync.Mutex).Unlock()

	if empty, err := isEmptyDir(volumeDir); err != nil {
		return fmt.Errorf("copy-up %s: %w", containerPath, err)
	} else if !empty {
		return nil
	}

	tmp, err := os.MkdirTemp(filepath.Dir(volumeDir), copyupPrefix)
	if err != nil {
		return fmt.Errorf("copy-up %s: %w", containerPath, err)
	}
	defer os.RemoveAll(tmp)

	var sameFS bool
	if a, b := statDev(tmp), statDev(volumeDir); a != nil && b != nil && *a == *b {
		sameFS = true
	}
	target := tmp
	if !sameFS {
		// volumeDir is a mount point of its own: copy straight into it.
		target = volumeDir
	}
	c := &copier{links: map[inode]string{}}
	if err := c.copyTree(src, target); err != nil {
		return fmt.Errorf("copy-up %s: %w", containerPath, err)
	}
	if sameFS {
		entries, err := os.ReadDir(tmp)
		if err != nil {
			return fmt.Errorf("copy-up %s: %w", containerPath, err)
		}
		for _, e := range entries {
			if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(volumeDir, e.Name())); err != nil {
				return fmt.Errorf("copy-up %s: %w", containerPath, err)
			}
		}
	}
	if err := copyMeta(src, volumeDir, sfi); err != nil {
		return fmt.Errorf("copy-up %s: %w", containerPath, err)
	}
	return nil
}

func statDev(p string) *uint64 {
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil {
		return nil
	}
	d := st.Dev
	return &d
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}

type inode struct{ dev, ino uint64 }

type copier struct {
	links map[inode]string // first copy of a hardlinked file
}

// copyTree copies the contents of src (a directory) into dst (an existing
// directory). Symlinks are copied as symlinks, never followed.
func (c *copier) copyTree(src, dst string) error {
	type dirMeta struct {
		src, dst string
		fi       fs.FileInfo
	}
	var dirs []dirMeta
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		st := fi.Sys().(*syscall.Stat_t)
		switch fi.Mode().Type() {
		case fs.ModeDir:
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirMeta{p, target, fi})
			return nil // metadata once its contents are in place
		case fs.ModeSymlink:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case 0: // regular file
			if st.Nlink > 1 {
				k := inode{uint64(st.Dev), st.Ino}
				if first, ok := c.links[k]; ok {
					return os.Link(first, target)
				}
				c.links[k] = target
			}
			if err := copyFile(p, target); err != nil {
				return err
			}
		case fs.ModeNamedPipe:
			if err := unix.Mkfifo(target, 0o600); err != nil {
				return err
			}
		case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
		default: // sockets and the like are not copied (as with tar)
			return nil
		}
		return copyMeta(p, target, fi)
	})
	if err != nil {
		return err
	}
	// Innermost first, so setting a directory's times is not undone by
	// writing into it, and a read-only directory is filled before it is
	// made read-only.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := copyMeta(dirs[i].src, dirs[i].dst, dirs[i].fi); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyMeta gives dst the owner, mode, xattrs and times of src (fi is its
// Lstat). The order matters: chown clears set-id bits and file
// capabilities, so it comes first.
func copyMeta(src, dst string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	isLink := fi.Mode().Type() == fs.ModeSymlink
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if !isLink {
		if err := unix.Fchmodat(unix.AT_FDCWD, dst, st.Mode&0o7777, 0); err != nil {
			return &os.PathError{Op: "chmod", Path: dst, Err: err}
		}
	}
	if err := copyXattrs(src, dst, isLink); err != nil {
		return err
	}
	ts := []unix.Timespec{{Sec: st.Atim.Sec, Nsec: st.Atim.Nsec}, {Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: dst, Err: err}
	}
	return nil
}

func copyXattrs(src, dst string, isLink bool) error {
	names, err := listXattrs(src)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return &os.PathError{Op: "llistxattr", Path: src, Err: err}
	}
	for _, name := range names {
		// Overlay's own bookkeeping (opaque dirs, redirects) is not content.
		if strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		val, err := getXattr(src, name)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return &os.PathError{Op: "lgetxattr " + name, Path: src, Err: err}
		}
		if err := unix.Lsetxattr(dst, name, val, 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || (isLink && errors.Is(err, unix.EPERM)) {
				continue
			}
			return &os.PathError{Op: "lsetxattr " + name, Path: dst, Err: err}
		}
	}
	return nil
}

func listXattrs(p string) ([]string, error) {
	size := 256
	for {
		buf := make([]byte, size)
		n, err := unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			size *= 4
			continue
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				names = append(names, s)
			}
		}
		return names, nil
	}
}

func getXattr(p, name string) ([]byte, error) {
	size := 256
	for {
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			size *= 4
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
