package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// ResolveTarget resolves the mount destination dst inside the container
// root rootfs, following the image's symlinks as if rootfs were "/", and
// creates it there when missing: a directory, or an empty file when file is
// set (the source of the mount is a file). It returns the host path of the
// target, with no symlink left in it, always rootfs itself or below it: a
// symlink in the image (absolute, relative with "..", chained, dangling)
// can never redirect a mount onto the host.
//
// Creation goes through pathrs-lite (openat2 RESOLVE_IN_ROOT where the
// kernel has it), and the returned path is read back from the opened
// handle and checked to lie under rootfs.
func ResolveTarget(rootfs, dst string, file bool) (string, error) {
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("mount target %s: %w", dst, err)
	}
	root, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return fail(err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return fail(err)
	}
	rootDir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	defer rootDir.Close()

	h, err := pathrs.OpenatInRoot(rootDir, dst)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return fail(err)
		}
		// Missing (or a dangling symlink): work out, lexically inside root,
		// where it should be, then create that through safe handles.
		joined, err := securejoin.SecureJoin(root, dst)
		if err != nil {
			return fail(err)
		}
		rel, err := filepath.Rel(root, joined)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return fail(fmt.Errorf("resolves outside the container root"))
		}
		if h, err = create(rootDir, "/"+rel, file); err != nil {
			return fail(err)
		}
	}
	defer h.Close()

	fi, err := h.Stat()
	if err != nil {
		return fail(err)
	}
	switch {
	case file && fi.IsDir():
		return fail(errors.New("is a directory in the container, cannot mount a file on it"))
	case !file && !fi.IsDir():
		return fail(errors.New("is not a directory in the container, cannot mount a directory on it"))
	}
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(h.Fd())))
	if err != nil {
		return fail(err)
	}
	if p != root && !strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/") {
		return fail(fmt.Errorf("resolved to %s, outside the container root %s", p, root))
	}
	return p, nil
}

func create(rootDir *os.File, rel string, file bool) (*os.File, error) {
	if !file {
		return pathrs.MkdirAllHandle(rootDir, rel, 0o755)
	}
	parent, err := pathrs.MkdirAllHandle(rootDir, filepath.Dir(rel), 0o755)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	base := filepath.Base(rel)
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
	if err == nil {
		unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "create", Path: rel, Err: err}
	}
	// Open what is there now through the safe resolver (someone may have
	// raced us; it is resolved inside the root either way).
	return pathrs.OpenatInRoot(rootDir, rel)
}
