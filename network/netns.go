package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// CreateNetNS makes a new network namespace that outlives any process: it is
// bind-mounted at path (under the exec root, like `ip netns add`), with its
// loopback up. A container joins it by path.
func CreateNetNS(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create netns: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) && isNetNS(path) {
			return fmt.Errorf("create netns %s: already exists", path)
		}
		if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create netns: %w", err)
		}
		// a plain file left by a crash between create and mount: reuse it
	} else {
		f.Close()
	}
	errc := make(chan error, 1)
	go func() {
		// Switch one locked thread into the new namespace and back. If it
		// cannot come back it stays locked and the runtime ends it with
		// the goroutine, so no other goroutine ever runs in the new
		// namespace by accident. (Leaving it switched would not do: a
		// locked main thread is kept, wedged, not ended, and /proc/self/net
		// would then show the container's namespace.)
		runtime.LockOSThread()
		orig, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open current netns: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		err = unix.Mount(src, path, "none", unix.MS_BIND, "")
		if err != nil {
			err = fmt.Errorf("bind-mount: %w", err)
		} else {
			err = setLoopbackUp()
		}
		if e := unix.Setns(orig, unix.CLONE_NEWNET); e == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		_ = RemoveNetNS(path)
		return fmt.Errorf("create netns %s: %w", path, err)
	}
	return nil
}

// setLoopbackUp brings up "lo" in the calling thread's namespace with one
// ioctl (cheaper than opening a netlink socket).
func setLoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	return nil
}

// RemoveNetNS unmounts and removes a namespace made by CreateNetNS. The
// namespace itself goes away when the last process in it exits. Removing a
// missing one is not an error.
func RemoveNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil &&
		!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns %s: %w", path, err)
	}
	return nil
}

// isNetNS tells whether path is a mounted network namespace.
func isNetNS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// withNetNSHandle opens a netlink handle inside the namespace at path.
func withNetNSHandle(path string, fn func(h *netlink.Handle, nsfd int) error) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", path, err)
	}
	defer unix.Close(fd)
	if !isNetNS(path) {
		return fmt.Errorf("%s is not a network namespace", path)
	}
	h, err := netlinkHandleAt(fd)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", path, err)
	}
	defer h.Close()
	return fn(h, fd)
}
