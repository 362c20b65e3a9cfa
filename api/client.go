// Package api is ctrd's API: the services that ctrd serves on its socket
// (default unix:///run/ctrd/ctrd.sock) and ctr calls, carried by package
// rpc, with their messages (messages.go) and the client (Dial).
package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ctrd/ctrd/rpc"
)

// DefaultHost is where ctrd listens unless told otherwise.
const DefaultHost = "unix:///run/ctrd/ctrd.sock"

// Client bundles the connection to ctrd with one client per service.
type Client struct {
	Host       string
	conn       *rpc.Client
	System     SystemService
	Uploads    UploadsService
	Images     ImagesService
	Containers ContainersService
	Volumes    VolumesService
	Networks   NetworksService
}

// ErrDaemonUnreachable is wrapped by Dial errors when nothing answers on the
// socket, so the CLI can print Docker's "is the daemon running?" hint.
var ErrDaemonUnreachable = errors.New("daemon unreachable")

// UnreachableError says that nothing answers at the daemon's address.
type UnreachableError struct {
	Host string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot connect to ctrd at %s: is the daemon running?", e.Host)
}

func (e *UnreachableError) Unwrap() []error { return []error{ErrDaemonUnreachable, e.Err} }

// SocketPath returns the file system path of a unix:// host address.
func SocketPath(host string) (string, error) {
	switch {
	case strings.HasPrefix(host, "unix://"):
		p := strings.TrimPrefix(host, "unix://")
		if p == "" {
			return "", fmt.Errorf("invalid host %q: empty socket path", host)
		}
		return p, nil
	case strings.HasPrefix(host, "/"):
		return host, nil
	default:
		return "", fmt.Errorf("invalid host %q: only unix:///path/to/socket is supported", host)
	}
}

// Dial connects to ctrd at host (unix:///path).
func Dial(ctx context.Context, host string) (*Client, error) {
	path, err := SocketPath(host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("permission denied while trying to connect to ctrd at %s: the socket is root-only, run ctr as root", host)
		}
		if errors.Is(err, os.ErrNotExist) || isConnRefused(err) {
			return nil, &UnreachableError{Host: host, Err: err}
		}
		return nil, fmt.Errorf("cannot connect to ctrd at %s: %w", host, err)
	}
	tc := rpc.NewClient(conn)
	return &Client{
		Host:       host,
		conn:       tc,
		System:     NewSystemClient(tc),
		Uploads:    NewUploadsClient(tc),
		Images:     NewImagesClient(tc),
		Containers: NewContainersClient(tc),
		Volumes:    NewVolumesClient(tc),
		Networks:   NewNetworksClient(tc),
	}, nil
}

// Conn is the underlying connection, for the services Client lacks
// (Builds).
func (c *Client) Conn() *rpc.Client { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func isConnRefused(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) {
		return strings.Contains(op.Err.Error(), "connection refused")
	}
	return false
}
