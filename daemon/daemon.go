// Package daemon is ctrd itself: it owns the data and exec roots, the
// metadata database and the stores, reconciles them at start, and serves the
// API on its sockets.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	sdnotify "github.com/coreos/go-systemd/v22/daemon"
	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/daemon/volumes"
	"github.com/ctrd/ctrd/images"
	"github.com/ctrd/ctrd/images/content"
	"github.com/ctrd/ctrd/images/snapshot"
	"github.com/ctrd/ctrd/network"
	"github.com/ctrd/ctrd/restart"
	"github.com/ctrd/ctrd/rpc"
	"github.com/ctrd/ctrd/runtime/seccompcache"
	"github.com/ctrd/ctrd/runtime/shim"
	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Daemon is one running ctrd.
type Daemon struct {
	cfg        Config
	lock       *os.File
	db         *bolt.DB
	images     *images.Store
	uploads    *uploads
	containers *containerStore
	volumes    *volumes.Store
	network    *network.Manager
	restarts   *restart.Supervisor
	execs      execExits
	started    time.Time
	stopping   atomic.Bool
	shimOnce   sync.Once
	shimPath   string
	standby    *shim.Standby
	seccomp    seccompcache.Cache // compiled filters, by profile

	server    *api.Server
	listeners []net.Listener
	uploadFDs net.Listener // see upload_fds.go
	sockets   []string     // socket files we created, removed at shutdown

	closeOnce sync.Once
}

// New opens (creating if needed) the daemon's directories, takes the
// data-root lock, opens the stores and repairs what a crash left behind.
func New(cfg Config) (_ *Daemon, retErr error) {
	for _, dir := range []string{cfg.DataRoot, cfg.ExecRoot} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	d := &Daemon{cfg: cfg, started: time.Now()}
	defer func() {
		if retErr != nil {
			d.Close()
		}
	}()
	lock, err := lockDataRoot(cfg.DataRoot)
	if err != nil {
		return nil, err
	}
	d.lock = lock

	db, err := bolt.Open(filepath.Join(cfg.DataRoot, "metadata.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open metadata database: %w", err)
	}
	d.db = db
	cs, err := content.Open(filepath.Join(cfg.DataRoot, "content"))
	if err != nil {
		return nil, fmt.Errorf("open content store: %w", err)
	}
	sn, err := snapshot.NewOverlay(filepath.Join(cfg.DataRoot, "snapshots"), db)
	if err != nil {
		return nil, fmt.Errorf("open snapshotter: %w", err)
	}
	if err := sn.Cleanup(); err != nil {
		return nil, fmt.Errorf("reconcile snapshots: %w", err)
	}
	st, err := images.New(db, cs, sn)
	if err != nil {
		return nil, err
	}
	d.images = st
	if err := st.CleanupStale(); err != nil {
		return nil, fmt.Errorf("reconcile images: %w", err)
	}
	if err := st.GC(); err != nil {
		return nil, fmt.Errorf("reconcile images: %w", err)
	}
	d.uploads = newUploads()
	d.restarts = restart.NewSupervisor()
	vs, err := volumes.NewStore(filepath.Join(cfg.DataRoot, "volumes"), db)
	if err != nil {
		return nil, fmt.Errorf("open volume store: %w", err)
	}
	d.volumes = vs
	nm, err := network.New(db, network.Config{
		Bridge:    cfg.Bridge,
		BIP:       cfg.BIP,
		ExecRoot:  cfg.ExecRoot,
		TableName: firewallTable(cfg.Bridge),
	})
	if err != nil {
		return nil, fmt.Errorf("networking: %w", err)
	}
	d.network = nm
	cs2, err := newContainerStore(db)
	if err != nil {
		return nil, err
	}
	d.containers = cs2
	st.SetInUse(cs2.usingImage)
	d.startStandby()
	go d.compileDefaultSeccomp()
	if err := d.reconcileContainers(); err != nil {
		return nil, fmt.Errorf("reconcile containers: %w", err)
	}
	return d, nil
}

// lockDataRoot makes sure one daemon at a time uses a data root.
func lockDataRoot(root string) (*os.File, error) {
	path := filepath.Join(root, "ctrd.pid")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		pid := strings.TrimSpace(string(b[:n]))
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another ctrd (pid %s) is already running with data-root %s: stop it first or use another --data-root", pid, root)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// Serve listens on the configured hosts (or on sockets systemd passed in),
// tells systemd it is ready and serves until ctx is done.
func (d *Daemon) Serve(ctx context.Context) error {
	srv := api.NewServer(errorInterceptor)
	d.server = srv
	api.RegisterSystemService(srv, &systemService{d: d})
	uploadsSrv := &uploadsService{u: d.uploads}
	if err := d.listenUploadFDs(); err != nil {
		logrus.WithError(err).Warn("no upload fd socket: imports of files are streamed")
	} else {
		uploadsSrv.fdSocket = d.uploadFDSocket()
	}
	api.RegisterUploadsService(srv, uploadsSrv)
	api.RegisterImagesService(srv, &imagesService{d: d})
	api.RegisterContainersService(srv, &containersService{d: d})
	api.RegisterVolumesService(srv, &volumesService{d: d})
	api.RegisterBuildsService(srv, &buildService{d: d})
	api.RegisterNetworksService(srv, &networksService{d: d})

	lis, err := d.listen()
	if err != nil {
		return err
	}
	d.listeners = lis
	errc := make(chan error, len(lis))
	for _, l := range lis {
		logrus.WithField("address", l.Addr().String()).Info("API listening")
		go func(l net.Listener) { errc <- srv.Serve(l) }(l)
	}
	if ok, err := sdnotify.SdNotify(false, sdnotify.SdNotifyReady); err != nil {
		logrus.WithError(err).Warn("sd_notify failed")
	} else if ok {
		logrus.Debug("notified systemd: ready")
	}
	logrus.WithFields(logrus.Fields{"data-root": d.cfg.DataRoot, "exec-root": d.cfg.ExecRoot}).Info("ctrd is ready")
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if errors.Is(err, rpc.ErrServerClosed) {
			return nil
		}
		return err
	}
}

func (d *Daemon) listen() ([]net.Listener, error) {
	// Socket activation: systemd holds the socket (ctrd.socket).
	if os.Getenv("LISTEN_FDS") != "" {
		ls, err := activation.Listeners()
		if err != nil {
			return nil, fmt.Errorf("systemd socket activation: %w", err)
		}
		var out []net.Listener
		for _, l := range ls {
			if l != nil {
				out = append(out, l)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	var out []net.Listener
	for _, h := range d.cfg.Hosts {
		path, err := api.SocketPath(h)
		if err != nil {
			return nil, err
		}
		l, err := listenUnix(path)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		d.sockets = append(d.sockets, path)
		out = append(out, l)
	}
	return out, nil
}

// listenUnix creates a root-only (0660 root:root) socket. A stale socket file
// is replaced, but one with a live daemon behind it is not.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another daemon is already listening on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	}
	old := syscall.Umask(0o117)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chown(path, 0, 0); err != nil {
		l.Close()
		return nil, fmt.Errorf("chown socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod socket: %w", err)
	}
	return l, nil
}

// Shutdown stops serving. Containers keep running: their shims own them.
func (d *Daemon) Shutdown(ctx context.Context) {
	d.stopping.Store(true)
	d.restarts.Shutdown()
	if d.server != nil {
		if err := d.server.Shutdown(ctx); err != nil {
			logrus.WithError(err).Warn("API shutdown")
			d.server.Close()
		}
	}
	d.Close()
}

// Close releases the database, the lock and the sockets.
func (d *Daemon) Close() {
	d.closeOnce.Do(func() {
		if d.standby != nil {
			d.standby.Close()
		}
		if d.uploadFDs != nil {
			d.uploadFDs.Close()
		}
		for _, p := range d.sockets {
			_ = os.Remove(p)
		}
		if d.network != nil {
			_ = d.network.Close()
		}
		if d.db != nil {
			_ = d.db.Close()
		}
		if d.lock != nil {
			_ = d.lock.Close()
		}
	})
}

func (d *Daemon) shuttingDown() bool { return d.stopping.Load() }

// warnings are repeated to users on create/run (e.g. no IP forwarding).
func (d *Daemon) warnings() []string { return d.network.Warnings() }

// firewallTable names ctrd's nftables table. A daemon on another bridge
// (a second instance, or a test) gets its own table, so daemons never share
// or remove each other's rules.
func firewallTable(bridge string) string {
	if bridge == "" || bridge == "ctr0" {
		return "ctrd"
	}
	return "ctrd_" + bridge
}

func (d *Daemon) restartPendingSince(id string) time.Time {
	t, _ := d.restarts.Pending(id)
	return t
}
