package shim

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ctrd/ctrd/runtime/attach"
)

// drainTimeout bounds how long the output of an exited process is still
// read (a background child may hold the pipes open).
const drainTimeout = 2 * time.Second

// process is the init process (id "") or an exec, with its stdio.
type process struct {
	s     *shim
	id    string
	spec  *specs.Process
	tty   bool
	stdin bool
	lp    *libcontainer.Process

	attachPath string
	ln         *net.UnixListener
	hub        hub

	// stdio, shim side
	consoleSock *os.File   // receives the pty master (tty)
	console     *os.File   // pty master (tty)
	stdinW      *os.File   // write end of the stdin pipe (no tty, stdin)
	stdinMu     sync.Mutex // guards stdinW and console
	outputs     []*os.File // read ends of stdout, stderr (no tty)
	childFiles  []*os.File // the container's ends, closed once started
	log         lineLog    // init only
	pumps       sync.WaitGroup

	mu        sync.Mutex
	status    Status // Created, Running or Stopped
	pid       int
	startedAt time.Time
	exitedAt  time.Time
	exitCode  int
	exitErr   string
	exited    chan struct{} // closed once stopped and output drained
}

func newProcess(s *shim, id string, sp *specs.Process, tty, stdin bool) (*process, error) {
	lp, err := processFromSpec(sp)
	if err != nil {
		return nil, err
	}
	p := &process{
		s: s, id: id, spec: sp, tty: tty, stdin: stdin, lp: lp,
		attachPath: AttachSocketPath(s.bundle, id),
		status:     Created,
		exited:     make(chan struct{}),
	}
	lp.Init = id == ""
	if err := p.openStdio(); err != nil {
		p.closeFiles()
		return nil, err
	}
	return p, nil
}

func (p *process) openStdio() error {
	if p.tty {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("console socket: %w", err)
		}
		p.consoleSock = os.NewFile(uintptr(fds[0]), "console-socket")
		child := os.NewFile(uintptr(fds[1]), "console-socket-child")
		p.childFiles = append(p.childFiles, child)
		p.lp.ConsoleSocket = child
		return nil
	}
	if p.stdin {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		p.stdinW = w
		p.childFiles = append(p.childFiles, r)
		p.lp.Stdin = r
	}
	for i := 0; i < 2; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		p.outputs = append(p.outputs, r)
		p.childFiles = append(p.childFiles, w)
		if i == 0 {
			p.lp.Stdout = w
		} else {
			p.lp.Stderr = w
		}
	}
	return nil
}

// started finishes the setup once libcontainer spawned the process: it
// takes the pty master, drops the container's ends of the stdio, and
// starts copying output and waiting for the exit.
func (p *process) started() error {
	for _, f := range p.childFiles {
		f.Close()
	}
	p.childFiles = nil
	pid, err := p.lp.Pid()
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.pid = pid
	p.mu.Unlock()
	if p.tty {
		p.pumps.Add(1)
	} else {
		p.pumps.Add(len(p.outputs))
	}
	go p.wait()
	if p.tty {
		m, err := recvFd(p.consoleSock)
		p.consoleSock.Close()
		p.consoleSock = nil
		if err != nil {
			p.pumps.Done()
			return fmt.Errorf("receiving pty master: %w", err)
		}
		p.stdinMu.Lock()
		p.console = m
		p.stdinMu.Unlock()
		go p.pump(m, "stdout", attach.Stdout)
		return nil
	}
	for i, r := range p.outputs {
		stream, sid := "stdout", attach.Stdout
		if i == 1 {
			stream, sid = "stderr", attach.Stderr
		}
		go p.pump(r, stream, sid)
	}
	return nil
}

// recvFd receives one file descriptor sent with SCM_RIGHTS.
func recvFd(sock *os.File) (*os.File, error) {
	rc, err := sock.SyscallConn()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	}); err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds[1:] {
			unix.Close(fd)
		}
		if len(fds) > 0 {
			// Non-blocking, so that reads and writes go through the
			// poller and Close interrupts them.
			if err := unix.SetNonblock(fds[0], true); err != nil {
				unix.Close(fds[0])
				return nil, err
			}
			return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
		}
	}
	return nil, errors.New("no file descriptor received")
}

// pump copies one output stream to the log and the attach clients.
func (p *process) pump(r *os.File, stream string, sid byte) {
	defer p.pumps.Done()
	defer r.Close()
	var ls *lineSplitter
	if p.log != nil {
		ls = &lineSplitter{log: p.log, stream: stream}
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			p.hub.broadcast(sid, buf[:n])
			if ls != nil {
				ls.write(buf[:n])
			}
		}
		if err != nil {
			// EIO: the pty's last slave closed; EOF: the pipe's.
			if err != io.EOF && !errors.Is(err, syscall.EIO) && !errors.Is(err, os.ErrClosed) {
				logf("reading %s: %v", stream, err)
			}
			break
		}
	}
	if ls != nil {
		ls.flush()
	}
}

// wait reaps the process and publishes its exit.
func (p *process) wait() {
	ps, err := p.lp.Wait()
	now := time.Now().UTC()
	p.s.reaper.forget(p.pid)
	st := ExitStatus{Code: 255, ExitedAt: now}
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			st.Code = waitCode(ws)
		}
	} else if err != nil {
		st.Error = err.Error()
	}
	if p.id == "" {
		// The durable record first: if the shim dies from here on, ctrd
		// still learns the exit.
		if err := writeExitFile(p.s.bundle, st); err != nil {
			logf("writing exit file: %v", err)
		}
	}
	p.drain()
	p.mu.Lock()
	p.status = Stopped
	p.exitCode, p.exitedAt, p.exitErr = st.Code, st.ExitedAt, st.Error
	p.mu.Unlock()
	p.closeStdin()
	p.closeConsole()
	if p.log != nil {
		p.log.Close()
	}
	close(p.exited)
	p.hub.finish(st.Code)
	if p.id == "" {
		p.s.destroyStopped()
	}
}

// closeConsole closes the pty master (which ends its pump).
func (p *process) closeConsole() {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.console != nil {
		p.console.Close()
	}
}

// waitCode is Docker's exit code: the status, or 128+n for signal n.
func waitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// drain waits for the output copies to end; when a leftover process keeps
// the stdio open past drainTimeout, the shim's ends are closed.
func (p *process) drain() {
	done := make(chan struct{})
	go func() { p.pumps.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(drainTimeout):
	}
	for _, f := range p.outputs {
		f.Close()
	}
	p.closeConsole()
	<-done
}

// fail marks a process that could not start as stopped with code.
func (p *process) fail(code int, msg string) {
	p.closeFiles()
	p.mu.Lock()
	p.status = Stopped
	p.exitCode, p.exitedAt, p.exitErr = code, time.Now().UTC(), msg
	p.mu.Unlock()
	close(p.exited)
	p.hub.finish(code)
}

func (p *process) closeFiles() {
	for _, f := range p.childFiles {
		f.Close()
	}
	p.childFiles = nil
	for _, f := range p.outputs {
		f.Close()
	}
	if p.consoleSock != nil {
		p.consoleSock.Close()
	}
	p.closeStdin()
	if p.log != nil {
		p.log.Close()
	}
}

func (p *process) writeStdin(b []byte) {
	if !p.stdin {
		return
	}
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	var w *os.File
	if p.tty {
		w = p.console
	} else {
		w = p.stdinW
	}
	if w == nil {
		return
	}
	if _, err := w.Write(b); err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, os.ErrClosed) {
		logf("writing stdin: %v", err)
	}
}

// closeStdin closes the stdin pipe; with a tty it does nothing (EOF is
// the pty's business: ^D).
func (p *process) closeStdin() {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdinW != nil {
		p.stdinW.Close()
		p.stdinW = nil
	}
}

func (p *process) resize(w, h uint32) error {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.console == nil {
		return fmt.Errorf("%w: no tty", ErrState)
	}
	rc, err := p.console.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(w), Row: uint16(h)})
	}); err != nil {
		return err
	}
	return ierr
}

// listen opens the process's attach socket.
func (p *process) listen() error {
	ln, err := attach.Listen(p.attachPath)
	if err != nil {
		return err
	}
	p.ln = ln
	go p.acceptLoop()
	return nil
}

func (p *process) acceptLoop() {
	for {
		conn, err := p.ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				logf("attach accept: %v", err)
			}
			return
		}
		c := p.hub.add(conn)
		go p.readLoop(c)
	}
}

// readLoop serves the client-to-shim frames of one attach client.
func (p *process) readLoop(c *attachClient) {
	defer p.hub.remove(c)
	buf := make([]byte, 32*1024)
	for {
		typ, b, err := attach.ReadFrame(c.conn, buf)
		if err != nil {
			return
		}
		switch typ {
		case attach.Stdin:
			p.writeStdin(b)
		case attach.CloseStdin:
			if !p.tty {
				p.closeStdin()
			}
		case attach.Resize:
			if w, h, ok := attach.ParseResize(b); ok && p.tty {
				if err := p.resize(w, h); err != nil {
					logf("resize: %v", err)
				}
			}
		}
	}
}

// closeAttach stops accepting attach clients and removes the socket.
func (p *process) closeAttach() {
	if p.ln != nil {
		p.ln.Close()
		os.Remove(p.attachPath)
	}
}

func (p *process) state() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return State{
		ID:           p.s.id,
		ExecID:       p.id,
		Pid:          p.pid,
		Status:       p.status,
		ExitCode:     p.exitCode,
		StartedAt:    p.startedAt,
		ExitedAt:     p.exitedAt,
		Tty:          p.tty,
		Stdin:        p.stdin,
		ShimPid:      os.Getpid(),
		AttachSocket: p.attachPath,
	}
}
