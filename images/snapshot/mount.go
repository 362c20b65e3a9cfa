package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// mountFlags maps mount(8) flag options to (set, clear) mount(2) flags.
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":          {false, unix.MS_RDONLY},
	"rw":          {true, unix.MS_RDONLY},
	"bind":        {false, unix.MS_BIND},
	"rbind":       {false, unix.MS_BIND | unix.MS_REC},
	"nosuid":      {false, unix.MS_NOSUID},
	"suid":        {true, unix.MS_NOSUID},
	"nodev":       {false, unix.MS_NODEV},
	"dev":         {true, unix.MS_NODEV},
	"noexec":      {false, unix.MS_NOEXEC},
	"exec":        {true, unix.MS_NOEXEC},
	"sync":        {false, unix.MS_SYNCHRONOUS},
	"async":       {true, unix.MS_SYNCHRONOUS},
	"dirsync":     {false, unix.MS_DIRSYNC},
	"noatime":     {false, unix.MS_NOATIME},
	"atime":       {true, unix.MS_NOATIME},
	"nodiratime":  {false, unix.MS_NODIRATIME},
	"diratime":    {true, unix.MS_NODIRATIME},
	"relatime":    {false, unix.MS_RELATIME},
	"norelatime":  {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME},
}

func parseOptions(opts []string) (flags uintptr, data []string) {
	for _, o := range opts {
		f, ok := mountFlags[o]
		switch {
		case !ok:
			data = append(data, o)
		case f.clear:
			flags &^= f.flag
		default:
			flags |= f.flag
		}
	}
	return flags, data
}

// MountAll mounts mounts, in order, on target (an existing directory). If
// one fails, the ones already mounted are undone.
func MountAll(mounts []Mount, target string) error {
	for i, m := range mounts {
		if err := mountOne(m, target); err != nil {
			for range i {
				unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
			}
			return err
		}
	}
	return nil
}

func mountOne(m Mount, target string) error {
	flags, data := parseOptions(m.Options)
	if m.Type == "bind" || flags&unix.MS_BIND != 0 {
		// The kernel ignores every flag but MS_REC on the bind itself;
		// ro, nosuid, ... need a second, remount call.
		bind := unix.MS_BIND | flags&unix.MS_REC
		if err := unix.Mount(m.Source, target, "", bind, ""); err != nil {
			return &os.PathError{Op: "mount bind " + m.Source, Path: target, Err: err}
		}
		if rest := flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
			if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|rest, ""); err != nil {
				unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
				return &os.PathError{Op: "remount bind " + strings.Join(m.Options, ","), Path: target, Err: err}
			}
		}
		return nil
	}
	if m.Type == "overlay" {
		return mountOverlay(m.Source, target, flags, data)
	}
	if err := unix.Mount(m.Source, target, m.Type, flags, strings.Join(data, ",")); err != nil {
		return &os.PathError{Op: "mount " + m.Type, Path: target, Err: err}
	}
	return nil
}

// maxData is the longest option string mount(2) accepts: the kernel copies
// at most one page, terminating NUL included.
var maxData = os.Getpagesize() - 1

// mountOverlay mounts an overlay. If the options (mostly lowerdir) exceed
// one page, the layer paths are rewritten relative to their common parent
// directory (the snapshot root: "12/fs" instead of
// "/var/lib/ctrd/snapshots/12/fs") and mount(2) runs in a thread whose
// working directory is that parent. With short numeric ids this fits
// overlayfs' own limit of 500 layers in one page.
func mountOverlay(source, target string, flags uintptr, data []string) error {
	if slices.Contains(data, volatileOpt) {
		prepareVolatile(data)
		err := mountOverlayData(source, target, flags, data)
		if !errors.Is(err, unix.EINVAL) {
			return err
		}
		// Kernels before 5.10 do not know the option: a durable mount.
		data = slices.DeleteFunc(slices.Clone(data), func(o string) bool { return o == volatileOpt })
	}
	return mountOverlayData(source, target, flags, data)
}

func mountOverlayData(source, target string, flags uintptr, data []string) error {
	opts := strings.Join(data, ",")
	if len(opts) <= maxData {
		if err := unix.Mount(source, target, "overlay", flags, opts); err != nil {
			return &os.PathError{Op: "mount overlay", Path: target, Err: err}
		}
		return nil
	}
	dir, rel := relativeOverlayOptions(data)
	opts = strings.Join(rel, ",")
	if dir == "" || len(opts) > maxData {
		return fmt.Errorf("mount overlay on %s: options too long (%d bytes after making paths relative; the kernel accepts %d): too many layers (%d)",
			target, len(opts), maxData, countLowers(data))
	}
	abs, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	err = inDir(dir, func() error { return unix.Mount(source, abs, "overlay", flags, opts) })
	if err != nil {
		return &os.PathError{Op: "mount overlay (relative to " + dir + ")", Path: target, Err: err}
	}
	return nil
}

func countLowers(data []string) int {
	for _, o := range data {
		if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			return len(strings.Split(v, ":"))
		}
	}
	return 0
}

// relativeOverlayOptions rewrites the lowerdir, upperdir and workdir paths
// relative to their deepest common directory, which it returns ("" if
// there is nothing to rewrite).
func relativeOverlayOptions(data []string) (string, []string) {
	var paths []string
	for _, o := range data {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			paths = append(paths, strings.Split(v, ":")...)
		case "upperdir", "workdir":
			paths = append(paths, v)
		}
	}
	if len(paths) == 0 {
		return "", data
	}
	common := filepath.Clean(paths[0])
	for _, p := range paths {
		p = filepath.Clean(p)
		if !filepath.IsAbs(p) {
			return "", data
		}
		for common != "/" && p != common && !strings.HasPrefix(p, common+"/") {
			common = filepath.Dir(common)
		}
	}
	rel := func(p string) string {
		r, err := filepath.Rel(common, p)
		if err != nil {
			return p
		}
		return r
	}
	out := make([]string, len(data))
	for i, o := range data {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			l := strings.Split(v, ":")
			for j := range l {
				l[j] = rel(l[j])
			}
			out[i] = k + "=" + strings.Join(l, ":")
		case "upperdir", "workdir":
			out[i] = k + "=" + rel(v)
		default:
			out[i] = o
		}
	}
	return common, out
}

// inDir runs fn on a dedicated OS thread whose working directory is dir,
// without touching the working directory of the rest of the process: the
// thread stops sharing its filesystem attributes (unshare CLONE_FS) before
// the chdir, and stays locked so the Go runtime throws it away afterwards
// instead of reusing it.
func inDir(dir string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread, on purpose (see above).
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare CLONE_FS: %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			errc <- &os.PathError{Op: "chdir", Path: dir, Err: err}
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Unmount unmounts target, including mounts stacked on it, and ignores
// "not mounted" and "does not exist". A busy mount is retried for a short
// while, then detached lazily (MNT_DETACH) so the caller can proceed; the
// kernel finishes the unmount when the last user goes away. Symlinks are
// not followed.
func Unmount(target string) error {
	const maxStack, maxBusy = 64, 10
	busy := 0
	for range maxStack {
		err := unix.Unmount(target, unix.UMOUNT_NOFOLLOW)
		switch {
		case err == nil:
			busy = 0 // something else may be stacked underneath
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil // not (or no longer) a mount point
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EBUSY):
			busy++
			if busy < maxBusy {
				time.Sleep(time.Duration(busy) * 10 * time.Millisecond)
				continue
			}
			if err := unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) {
				return &os.PathError{Op: "umount (detach)", Path: target, Err: err}
			}
			busy = 0
		default:
			return &os.PathError{Op: "umount", Path: target, Err: err}
		}
	}
	return fmt.Errorf("umount %s: more than %d mounts stacked", target, maxStack)
}

// Volatile marks the writable overlays among mounts volatile: overlayfs
// then never syncs their upper directory, not even at unmount, where it
// otherwise syncs the whole file system the upper directory lives on (a
// journal commit, 2-15 ms here). Only for writable layers thrown away
// with their container (run --rm): after a crash of the machine, a
// volatile upper directory may have lost writes.
func Volatile(mounts []Mount) []Mount {
	out := make([]Mount, len(mounts))
	for i, m := range mounts {
		out[i] = m
		if m.Type == "overlay" && slices.ContainsFunc(m.Options, isUpperDir) {
			out[i].Options = append(slices.Clip(m.Options), volatileOpt)
		}
	}
	return out
}

const volatileOpt = "volatile"

func isUpperDir(o string) bool { return strings.HasPrefix(o, "upperdir=") }

// prepareVolatile readies the work directory of a volatile overlay. The
// kernel leaves work/incompat/volatile behind and refuses to mount the
// same upper directory again while it is there, as the upper directory
// may have lost writes in a crash. ctrd mounts a volatile layer again
// only within the same boot, after its own clean unmount (a crash of the
// machine removes the container with its layer at the next start), so
// the marker is dropped.
func prepareVolatile(data []string) {
	for _, o := range data {
		if w, ok := strings.CutPrefix(o, "workdir="); ok {
			_ = os.RemoveAll(filepath.Join(w, "work", "incompat", volatileOpt))
		}
	}
}
