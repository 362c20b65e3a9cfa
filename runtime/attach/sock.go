package attach

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// maxSunPath is the longest path a sockaddr_un holds (without the NUL).
const maxSunPath = 107

// Listen listens on the unix socket path, replacing a stale socket file.
// Paths longer than a sockaddr_un allows are bound through a descriptor of
// their directory (/proc/self/fd/N/name). The listener does not remove the
// socket file when closed; callers remove it.
func Listen(path string) (*net.UnixListener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var l *net.UnixListener
	err := withShortPath(path, func(p string) error {
		var err error
		l, err = net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
		return err
	})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// DialSocket connects to the unix socket path (any length, see Listen).
// It is the raw connection, for any protocol (the shim's API too).
func DialSocket(ctx context.Context, path string) (*net.UnixConn, error) {
	var c net.Conn
	err := withShortPath(path, func(p string) error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, "unix", p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.(*net.UnixConn), nil
}

// Dial connects to a process's attach socket and waits for the shim's
// Attached frame: once it returns, every later output of the process
// reaches this connection.
func Dial(ctx context.Context, path string) (*net.UnixConn, error) {
	uc, err := DialSocket(ctx, path)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = uc.SetReadDeadline(deadline)
	typ, _, err := ReadFrame(uc, make([]byte, 16))
	_ = uc.SetReadDeadline(time.Time{})
	if err != nil || typ != Attached {
		uc.Close()
		if err == nil {
			err = fmt.Errorf("unexpected frame type %d", typ)
		}
		return nil, fmt.Errorf("attach handshake: %w", err)
	}
	return uc, nil
}

func withShortPath(path string, fn func(string) error) error {
	if len(path) <= maxSunPath {
		return fn(path)
	}
	dir, name := filepath.Split(path)
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	short := "/proc/self/fd/" + strconv.Itoa(fd) + "/" + name
	if len(short) > maxSunPath {
		return fmt.Errorf("socket name too long: %s", path)
	}
	return fn(short)
}
