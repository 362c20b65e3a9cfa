package shim

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/ctrd/ctrd/rpc"
	"github.com/ctrd/ctrd/runtime/attach"
	"github.com/ctrd/ctrd/runtime/seccompcache"

	// The shim creates containers: cgroup device rules and nsenter (for
	// the "init" re-exec of the same binary) must be linked in.
	_ "github.com/opencontainers/cgroups/devices"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// config is what the shim is told on its command line.
type config struct {
	id, bundle, stateRoot string
	tty, stdin            bool
	logPath               string
	logMaxSize            int64
	logMaxFiles           int
	readyFd               int
	debug                 bool
}

// readyMsg is the one line the shim writes on its ready pipe.
type readyMsg struct {
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
	// Start marks a failure of the container's process to start (see
	// StartError), as opposed to one of the shim or the container setup.
	Start bool `json:"start,omitempty"`
}

func shimArgs(o StartOptions, bundle string) []string {
	a := []string{"shim", "--id", o.ID, "--bundle", bundle, "--state-root", o.StateRoot, "--ready-fd", "3"}
	if o.Tty {
		a = append(a, "--tty")
	}
	if o.Stdin {
		a = append(a, "--stdin")
	}
	if o.LogPath != "" {
		a = append(a, "--log", o.LogPath,
			"--log-max-size", strconv.FormatInt(o.LogMaxSize, 10),
			"--log-max-files", strconv.Itoa(o.LogMaxFiles))
	}
	if o.Debug {
		a = append(a, "--debug")
	}
	return a
}

// Main is the shim: "<ctrd> shim ARGS", args being os.Args[2:]. It creates
// the container, reports on its ready pipe, serves until the container is
// deleted, and returns the process's exit code. Started as a spare
// (--standby), it serves one container after another (see standby).
func Main(args []string) int {
	if len(args) > 0 && args[0] == standbyFlag {
		return standby()
	}
	code, _ := serveContainer(args)
	return code
}

// standby is a spare shim: it waits for its container's arguments, serves
// the container until it is deleted, and then offers itself, running and
// warm, for the next container. Starting a shim costs ~20 ms of CPU here
// (exec, the Go runtime, package initialisation, warm-up); a shim that has
// served a container creates the next one with its pages already faulted
// in. It exits when ctrd no longer wants it (the socket closes), or after
// a container whose creation failed.
func standby() int {
	go warmUp()
	sock, err := takeStandbySocket()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		a, err := awaitAssignment(sock)
		if err != nil {
			if err != io.EOF {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			return 0
		}
		code, again := serveContainer(a[1:]) // a is a whole shim command line: "shim", flags
		if !again {
			return code
		}
		if err := becomeSpare(sock); err != nil {
			return 0 // ctrd is gone or has a spare: nothing more to do
		}
	}
}

// serveContainer creates the container of args (shim flags), reports on the
// ready pipe and serves until the container is deleted. again tells that it
// ended as it should, with Delete: the process may serve another one.
func serveContainer(args []string) (code int, again bool) {
	var c config
	fs := flag.NewFlagSet("shim", flag.ContinueOnError)
	fs.StringVar(&c.id, "id", "", "container id")
	fs.StringVar(&c.bundle, "bundle", "", "bundle directory (config.json)")
	fs.StringVar(&c.stateRoot, "state-root", "", "libcontainer state root")
	fs.BoolVar(&c.tty, "tty", false, "allocate a pty")
	fs.BoolVar(&c.stdin, "stdin", false, "keep stdin open")
	fs.StringVar(&c.logPath, "log", "", "json-file log path")
	fs.Int64Var(&c.logMaxSize, "log-max-size", 0, "rotate the log at this size")
	fs.IntVar(&c.logMaxFiles, "log-max-files", 1, "log files kept")
	fs.IntVar(&c.readyFd, "ready-fd", -1, "pipe to report readiness on")
	fs.BoolVar(&c.debug, "debug", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return 2, false
	}
	if c.readyFd >= 0 {
		// Keep the pipe out of the container's processes.
		unix.CloseOnExec(c.readyFd)
	}
	logrus.SetOutput(os.Stderr)
	logrus.SetLevel(logrus.WarnLevel)
	if c.debug {
		logrus.SetLevel(logrus.DebugLevel)
		// Sub-millisecond stamps: debug logs are read to see where
		// a container's start spends its time.
		logrus.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05.000000"})
	}
	dropSignals.Do(func() {
		// The shim outlives ctrd's session and terminal; it ends with
		// Delete. These signals are caught and dropped rather than
		// ignored: an ignored disposition would be inherited by the
		// container's processes, where a shell then cannot even trap
		// them.
		drop := make(chan os.Signal, 8)
		signal.Notify(drop, unix.SIGHUP, unix.SIGINT, unix.SIGPIPE)
		go func() {
			for range drop {
			}
		}()
	})

	// libcontainer passes the shim's GOMAXPROCS to the container's init
	// (and exec's setns) process: a short-lived Go process that waits on
	// pipes and syscalls, where more Ps only start threads. One P takes
	// 2-4 ms off its ~60 ms (measured). The container's own processes get
	// their spec's environment, not this one.
	os.Setenv("GOMAXPROCS", "1")
	s, err := newShim(c)
	msg := readyMsg{}
	if err != nil {
		logf("create: %v", err)
		msg.Error = err.Error()
		var se *StartError
		msg.Start = errors.As(err, &se)
	} else {
		msg.Pid = s.init.pid
	}
	if c.readyFd >= 0 {
		f := os.NewFile(uintptr(c.readyFd), "ready")
		b, _ := json.Marshal(msg)
		if _, werr := f.Write(append(b, '\n')); werr != nil {
			logf("ready pipe: %v", werr)
		}
		f.Close()
	}
	if err != nil {
		return 1, false
	}
	// Hand back what setting up the container needed: the shim idles
	// for the container's lifetime. Not at once: ctrd starts the
	// container right after the ready message, and a forced collection
	// now would hold up that request by several milliseconds.
	settle := time.AfterFunc(settleDelay, func() {
		tune()
		debug.FreeOSMemory()
	})
	defer settle.Stop()
	if c.debug {
		go func() {
			time.Sleep(settleDelay + 400*time.Millisecond)
			debug.FreeOSMemory()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			logf("memstats: heapAlloc %d heapInuse %d heapIdle %d heapReleased %d stackInuse %d sys %d mspan %d gcsys %d other %d numgc %d goroutines %d",
				m.HeapAlloc, m.HeapInuse, m.HeapIdle, m.HeapReleased, m.StackInuse, m.Sys, m.MSpanInuse, m.GCSys, m.OtherSys, m.NumGC, runtime.NumGoroutine())
		}()
	}
	<-s.done
	return 0, true
}

var dropSignals sync.Once

// settleDelay is how long after the container is created the shim
// shrinks itself for its idle life.
const settleDelay = 300 * time.Millisecond

// tune keeps the shim small: it is idle almost all the time and there is
// one per container.
func tune() {
	debug.SetGCPercent(20)
	debug.SetMemoryLimit(16 << 20)
}

var logMu sync.Mutex

// logf writes to the shim's log (its stderr).
func logf(format string, args ...any) {
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Fprintf(os.Stderr, "%s shim[%d]: %s\n", time.Now().UTC().Format(time.RFC3339Nano), os.Getpid(), fmt.Sprintf(format, args...))
}

// shim is the state of one shim process: one container, its init and
// exec processes.
type shim struct {
	id, bundle, stateRoot string
	c                     *libcontainer.Container
	init                  *process
	reaper                *reaper
	srv                   *rpc.Server
	ln                    *trackingListener

	mu       sync.Mutex
	execs    map[string]*process
	deleting bool
	done     chan struct{}

	destroyOnce sync.Once
	destroyErr  error
}

func newShim(cfg config) (_ *shim, retErr error) {
	if err := validID(cfg.id); err != nil {
		return nil, err
	}
	if cfg.bundle == "" || cfg.stateRoot == "" {
		return nil, errors.New("--bundle and --state-root are required")
	}
	bundle, err := filepath.Abs(cfg.bundle)
	if err != nil {
		return nil, err
	}
	// specconv resolves a relative rootfs against the working directory.
	if err := os.Chdir(bundle); err != nil {
		return nil, err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("set child subreaper: %w", err)
	}
	spec, err := readSpec(bundle)
	if err != nil {
		return nil, err
	}
	s := &shim{
		id: cfg.id, bundle: bundle, stateRoot: cfg.stateRoot,
		reaper: processReaper(),
		execs:  make(map[string]*process),
		done:   make(chan struct{}),
	}
	_ = os.Remove(filepath.Join(bundle, exitFileName))
	p, err := newProcess(s, "", spec.Process, cfg.tty, cfg.stdin)
	if err != nil {
		return nil, err
	}
	if cfg.logPath != "" {
		if p.log, err = openLog(cfg.logPath, cfg.logMaxSize, cfg.logMaxFiles); err != nil {
			p.closeFiles()
			return nil, fmt.Errorf("open log: %w", err)
		}
	}
	defer func() {
		if retErr != nil {
			p.closeFiles()
		}
	}()
	lcfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName: cfg.id,
		Spec:       spec,
	})
	if err != nil {
		return nil, err
	}
	if err := seccompcache.Verify(bundle, lcfg.Seccomp); err != nil {
		logf("seccomp filter from ctrd not used: %v", err)
	}
	c, err := libcontainer.Create(cfg.stateRoot, cfg.id, lcfg)
	if err != nil {
		return nil, err
	}
	s.c = c
	err = s.reaper.spawn(func() (int, error) {
		if err := c.Start(p.lp); err != nil {
			return 0, err
		}
		pid, _ := p.lp.Pid()
		return pid, nil
	})
	if err != nil {
		s.destroyContainer()
		return nil, newStartError(err.Error())
	}
	s.init = p
	if err := p.started(); err != nil {
		_ = c.Signal(unix.SIGKILL)
		<-p.exited
		s.destroyContainer()
		return nil, err
	}
	if err := s.serve(); err != nil {
		_ = c.Signal(unix.SIGKILL)
		<-p.exited
		s.destroyContainer()
		return nil, err
	}
	return s, nil
}

// serve opens the attach socket of init and the API socket.
func (s *shim) serve() error {
	_ = os.WriteFile(filepath.Join(s.bundle, pidFileName), []byte(strconv.Itoa(os.Getpid())), 0o600)
	if err := s.init.listen(); err != nil {
		return err
	}
	srv := rpc.NewServer((&service{s: s}).handle)
	ln, err := attach.Listen(SocketPath(s.bundle))
	if err != nil {
		s.init.closeAttach()
		return err
	}
	tl := &trackingListener{UnixListener: ln, idle: make(chan struct{})}
	s.srv, s.ln = srv, tl
	go func() {
		if err := srv.Serve(tl); err != nil && !errors.Is(err, rpc.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			logf("serve: %v", err)
		}
	}()
	return nil
}

// destroyContainer destroys the container (its cgroups and libcontainer
// state) once, whoever asks first: Delete, or the init's exit.
func (s *shim) destroyContainer() error {
	s.destroyOnce.Do(func() { s.destroyErr = s.destroy() })
	return s.destroyErr
}

// destroyStopped destroys the container as soon as its init has exited,
// while ctrd is still handling the exit, so that Delete finds it done.
// Not while exec processes are known: Delete kills and waits for them
// first.
func (s *shim) destroyStopped() {
	s.mu.Lock()
	busy := len(s.execs) > 0 || s.deleting
	s.mu.Unlock()
	if !busy {
		go func() {
			// The exit's replies (to Wait, to the attached clients)
			// are ready to run and go first: with the shim's one P, a
			// new goroutine would otherwise run before them.
			runtime.Gosched()
			s.destroyContainer()
		}()
	}
}

// destroy removes the container (cgroups, state dir), retrying while the
// kernel still tears down its last processes.
func (s *shim) destroy() error {
	var err error
	for i := 0; i < 50; i++ {
		err = s.reaper.spawn(func() (int, error) { return 0, s.c.Destroy() })
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	logf("destroy: %v", err)
	return err
}

// shutdown stops serving and lets Main return, once the clients closed
// their connections (Client.Delete does right after the reply) or after
// a grace period: closing the server may drop a reply being sent.
func (s *shim) shutdown() {
	s.ln.Close()
	select {
	case <-s.ln.idle:
	case <-time.After(time.Second):
	}
	s.srv.Close()
	close(s.done)
}

// trackingListener counts the connections it accepted that are still
// open; idle is closed when the listener is closed and none is left.
type trackingListener struct {
	*net.UnixListener
	mu     sync.Mutex
	open   int
	closed bool
	idle   chan struct{}
}

// Accept returns the next connection of a peer running as the shim's
// user (root); others are refused.
func (l *trackingListener) Accept() (net.Conn, error) {
	var c *net.UnixConn
	for {
		var err error
		if c, err = l.UnixListener.AcceptUnix(); err != nil {
			return nil, err
		}
		if sameUser(c) {
			break
		}
		c.Close()
	}
	l.mu.Lock()
	l.open++
	l.mu.Unlock()
	return &trackedConn{Conn: c, l: l}, nil
}

func (l *trackingListener) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		if l.open == 0 {
			close(l.idle)
		}
	}
	l.mu.Unlock()
	return l.UnixListener.Close()
}

func sameUser(c *net.UnixConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return false
	}
	return int(cred.Uid) == os.Geteuid()
}

type trackedConn struct {
	net.Conn
	once sync.Once
	l    *trackingListener
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		if c.l.open == 0 && c.l.closed {
			close(c.l.idle)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
