package shim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Standby starts shims ahead of need. Starting a shim process (exec, the Go
// runtime, package initialisation) costs a good part of a container's start
// on machines where page faults are expensive, so one spare shim waits,
// already running, for the next container; a new spare is started a little
// after that container is created (refillDelay). A shim started as a spare
// offers itself again once its container is deleted, and is kept as the
// spare if there is none: most containers then cost no shim start at all.
//
// Every shim is executed from one sealed in-memory copy of the binary made
// once: libcontainer then needs no per-container protected copy of its
// executable for the container's init (see CVE-2019-5736), and the copy
// on disk can be replaced by an upgrade without affecting running shims.
//
// A spare is told which container it serves over a socket, with the
// container's arguments and two descriptors (shim log, ready pipe); it
// exits when that socket closes without a message, so a spare never
// outlives ctrd.
type Standby struct {
	path      string   // the shim binary, argv[0] of every shim
	stateRoot string   // libcontainer's state root of the daemon's shims
	sealed    *os.File // the sealed copy, kept open (nil if none could be made)

	mu      sync.Mutex
	exe     string // what is executed: the sealed copy, or path
	spare   *spareShim
	refill  *time.Timer   // a RefillLater pending
	filling chan struct{} // closed when the spare being started is there
	closed  bool
}

// spareShim is a started shim waiting for its container.
type spareShim struct {
	cmd    *exec.Cmd
	sock   *os.File // our end of the assignment socket
	exited chan struct{}
}

// NewStandby prepares shims of binary ("" for this executable) for
// containers under stateRoot, and starts the first spare.
func NewStandby(binary, stateRoot string) (*Standby, error) {
	if binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		binary = exe
	}
	s := &Standby{path: binary, exe: binary, stateRoot: stateRoot}
	if f, err := sealedCopy(binary); err == nil {
		s.sealed = f
		// The child resolves this path before its close-on-exec
		// descriptors are closed, as fexecve(3) does.
		s.exe = "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	}
	s.Refill()
	return s, nil
}

// Binary is the shim binary this Standby starts.
func (s *Standby) Binary() string { return s.path }

// command is a shim process for args, executed from the sealed copy.
func (s *Standby) command(args []string) *exec.Cmd {
	s.mu.Lock()
	exe := s.exe
	s.mu.Unlock()
	return &exec.Cmd{
		Path:        exe,
		Args:        append([]string{s.path}, args...),
		Env:         shimEnv(),
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
}

// start starts cmd, made by command. Where the sealed copy cannot be
// executed (a policy such as vm.memfd_noexec=2), the binary's path is
// used instead, from then on.
func (s *Standby) start(cmd *exec.Cmd) (*exec.Cmd, error) {
	err := cmd.Start()
	if err == nil || cmd.Path == s.path {
		return cmd, err
	}
	s.mu.Lock()
	s.exe = s.path
	s.mu.Unlock()
	retry := &exec.Cmd{
		Path: s.path, Args: cmd.Args, Env: cmd.Env, Dir: cmd.Dir,
		Stdout: cmd.Stdout, Stderr: cmd.Stderr, ExtraFiles: cmd.ExtraFiles,
		SysProcAttr: cmd.SysProcAttr,
	}
	return retry, retry.Start()
}

// refillDelay is how long after a container is created its spare's
// successor is started. Started at once, the spare (its Go runtime and
// warm-up, ~20 ms of CPU) competes with the container's first moments and
// its client's session: `run --rm` measured 3-7 ms slower so on 2 CPUs. A
// container started meanwhile starts a shim of its own.
const refillDelay = 100 * time.Millisecond

// RefillLater calls Refill after refillDelay.
func (s *Standby) RefillLater() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.refill != nil {
		return
	}
	s.refill = time.AfterFunc(refillDelay, func() {
		s.mu.Lock()
		s.refill = nil
		s.mu.Unlock()
		s.Refill()
	})
}

// Refill starts a spare in the background unless one is there or coming.
func (s *Standby) Refill() {
	s.mu.Lock()
	if s.closed || s.spare != nil || s.filling != nil {
		s.mu.Unlock()
		return
	}
	filled := make(chan struct{})
	s.filling = filled
	s.mu.Unlock()
	go func() {
		sp, err := s.spawnSpare()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.filling = nil
		close(filled)
		if err != nil {
			return // containers start without a spare
		}
		if s.closed || s.spare != nil {
			// Closed, or a shim came back meanwhile: the
			// spare exits on its own.
			sp.sock.Close()
			return
		}
		s.spare = sp
	}()
}

func (s *Standby) spawnSpare() (*spareShim, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "standby"), os.NewFile(uintptr(fds[1]), "standby")
	defer theirs.Close()
	// The state root on its command line tells which daemon a shim
	// belongs to (its container's bundle is its working directory).
	cmd := s.command([]string{"shim", standbyFlag, "--state-root", s.stateRoot})
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	cmd, err = s.start(cmd)
	if err != nil {
		ours.Close()
		return nil, err
	}
	sp := &spareShim{cmd: cmd, sock: ours, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(sp.exited)
	}()
	return sp, nil
}

// claim takes the spare, if there is a live one. One being started is
// waited for: it is further along than a shim started now would be.
func (s *Standby) claim() *spareShim {
	s.mu.Lock()
	if filling := s.filling; filling != nil {
		s.mu.Unlock()
		<-filling
		s.mu.Lock()
	}
	sp := s.spare
	s.spare = nil
	s.mu.Unlock()
	if sp == nil {
		return nil
	}
	select {
	case <-sp.exited:
		sp.sock.Close()
		return nil
	default:
		return sp
	}
}

// assign hands the spare its container: args as on a shim's command line,
// log becomes its stdout and stderr, ready its --ready-fd 3. On failure the
// socket is closed: a spare not assigned exits on its own.
func (s *Standby) assign(sp *spareShim, args []string, log, ready *os.File) error {
	payload := []byte(strings.Join(args, "\x00"))
	err := errors.New("shim arguments too long")
	if len(payload) <= maxAssignment {
		err = unix.Sendmsg(int(sp.sock.Fd()), payload, unix.UnixRights(int(log.Fd()), int(ready.Fd())), nil, 0)
	}
	if err != nil {
		sp.sock.Close()
		return err
	}
	go s.reclaim(sp)
	return nil
}

// freeMsg is what a shim started as a spare sends when its container has
// been deleted and it can serve another.
const freeMsg = "free"

// reclaim waits for sp to report its container deleted, and keeps it as
// the spare; when there is one already (or the Standby is closed), the
// socket is closed and the shim exits.
func (s *Standby) reclaim(sp *spareShim) {
	buf := make([]byte, len(freeMsg)+1)
	n, err := sp.sock.Read(buf)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || string(buf[:n]) != freeMsg || s.closed || s.spare != nil {
		sp.sock.Close()
		return
	}
	s.spare = sp
	if s.refill != nil {
		s.refill.Stop()
		s.refill = nil
	}
}

// Close stops the spare; shims already serving containers are not
// affected.
func (s *Standby) Close() {
	s.mu.Lock()
	s.closed = true
	sp := s.spare
	s.spare = nil
	if s.refill != nil {
		s.refill.Stop()
		s.refill = nil
	}
	s.mu.Unlock()
	if sp != nil {
		sp.sock.Close()
		select {
		case <-sp.exited:
		case <-time.After(time.Second):
			_ = sp.cmd.Process.Kill()
			<-sp.exited
		}
	}
	// The sealed copy stays open: shims may still be starting from it.
}

const (
	standbyFlag   = "--standby"
	maxAssignment = 64 << 10
)

// takeStandbySocket moves the spare's socket, descriptor 3, out of the way
// of the ready pipes that assignments install there.
func takeStandbySocket() (int, error) {
	fd, err := unix.FcntlInt(3, unix.F_DUPFD_CLOEXEC, 10)
	if err != nil {
		return -1, fmt.Errorf("standby: %w", err)
	}
	return fd, nil
}

// awaitAssignment is the spare's side: it waits on sock for its container
// and returns the shim arguments, with the shim log installed as stdout
// and stderr and the ready pipe as descriptor 3. io.EOF means ctrd went
// away (or stopped the spare) before assigning one.
func awaitAssignment(sock int) ([]string, error) {
	buf := make([]byte, maxAssignment)
	oob := make([]byte, unix.CmsgSpace(2*4))
	n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	for errors.Is(err, unix.EINTR) {
		n, oobn, _, _, err = unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	}
	if err != nil {
		return nil, fmt.Errorf("standby: %w", err)
	}
	if n == 0 && oobn == 0 {
		return nil, io.EOF
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("standby: bad assignment")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 2 {
		return nil, fmt.Errorf("standby: bad assignment")
	}
	log, ready := fds[0], fds[1]
	// A shim that served a container before has closed descriptor 3, so
	// a received descriptor may well be 3 itself: the log is moved out of
	// the way first.
	if log == 3 {
		if log, err = unix.FcntlInt(3, unix.F_DUPFD_CLOEXEC, 4); err != nil {
			return nil, fmt.Errorf("standby: %w", err)
		}
	}
	for _, d := range []struct{ from, to int }{{log, 1}, {log, 2}, {ready, 3}} {
		if d.from == d.to {
			continue
		}
		if err := unix.Dup3(d.from, d.to, 0); err != nil {
			return nil, fmt.Errorf("standby: %w", err)
		}
	}
	unix.Close(log)
	if ready != 3 {
		unix.Close(ready)
	}
	args := strings.Split(string(buf[:n]), "\x00")
	if len(args) == 0 || args[0] != "shim" {
		return nil, fmt.Errorf("standby: bad assignment")
	}
	return args, nil
}

// sealedCopy copies binary into a sealed memfd (which the kernel lets
// nobody modify).
func sealedCopy(binary string) (*os.File, error) {
	src, err := os.Open(binary)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("ctrd-shim", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		// Kernels before 6.3 know no MFD_EXEC; their memfds are
		// executable anyway.
		fd, err = unix.MemfdCreate("ctrd-shim", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "ctrd-shim")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy %s: %w", binary, err)
	}
	if err := f.Chmod(0o511); err != nil {
		f.Close()
		return nil, err
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal: %w", err)
	}
	return f, nil
}

// becomeSpare readies a shim whose container was deleted for the next one
// and tells the Standby on sock. What the container set up is gone with
// it (its shim struct, sockets, files); the process-wide state it changed
// is put back as a new spare has it.
func becomeSpare(sock int) error {
	if err := os.Chdir("/"); err != nil {
		return err
	}
	// stdout and stderr are the deleted container's shim log.
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	for _, fd := range []int{1, 2} {
		if err := unix.Dup3(int(null.Fd()), fd, 0); err != nil {
			return err
		}
	}
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	_, err = unix.Write(sock, []byte(freeMsg))
	return err
}
