package shim

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/ctrd/ctrd/rpc"
)

// deleteTimeout bounds how long Delete waits for a killed init to exit.
const deleteTimeout = 10 * time.Second

// service implements the shim's API (api.go).
type service struct {
	s *shim
}

// handle is the rpc.Handler of the API.
func (v *service) handle(ctx context.Context, method string, params json.RawMessage) (any, error) {
	switch method {
	case methodState:
		return request(params, func(r processRequest) (any, error) { return v.State(r.ExecID) })
	case methodStart:
		return request(params, func(r processRequest) (any, error) { return v.Start(r.ExecID) })
	case methodWait:
		return request(params, func(r processRequest) (any, error) { return v.Wait(ctx, r.ExecID) })
	case methodKill:
		return request(params, func(r killRequest) (any, error) { return nil, v.Kill(r) })
	case methodResize:
		return request(params, func(r resizeRequest) (any, error) { return nil, v.Resize(r) })
	case methodCloseStdin:
		return request(params, func(r processRequest) (any, error) { return nil, v.CloseStdin(r.ExecID) })
	case methodPause:
		return nil, v.Pause()
	case methodResume:
		return nil, v.Resume()
	case methodPids:
		return v.Pids()
	case methodExec:
		return request(params, func(r execRequest) (any, error) { return nil, v.Exec(r) })
	case methodDelete:
		return request(params, func(r processRequest) (any, error) { return v.Delete(r.ExecID) })
	}
	return nil, rpc.Errorf(codeInvalid, "no method %q", method)
}

// Errors on the wire: sentinel errors travel as codes.
func errNotFound(id string) error {
	return rpc.Errorf(codeNotFound, "exec %q: %v", id, ErrNotFound)
}

func errState(format string, args ...any) error {
	return rpc.Errorf(codeState, format, args...)
}

func errNotRunning() error {
	return rpc.Errorf(codeNotRunning, "%v", ErrNotRunning)
}

func errStart(err error) error {
	return rpc.Errorf(codeStart, "%v", err)
}

func (v *service) proc(execID string) (*process, error) {
	if execID == "" {
		return v.s.init, nil
	}
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	p, ok := v.s.execs[execID]
	if !ok {
		return nil, errNotFound(execID)
	}
	return p, nil
}

func (v *service) State(execID string) (State, error) {
	p, err := v.proc(execID)
	if err != nil {
		return State{}, err
	}
	st := p.state()
	if p.id == "" && st.Status == Running {
		if cs, err := v.s.c.Status(); err == nil && cs == libcontainer.Paused {
			st.Status = Paused
		}
	}
	return st, nil
}

// claimStart moves a created process to running, once.
func (p *process) claimStart() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status != Created || !p.startedAt.IsZero() {
		return false
	}
	p.startedAt = time.Now().UTC()
	return true
}

func (v *service) Start(execID string) (startReply, error) {
	p, err := v.proc(execID)
	if err != nil {
		return startReply{}, err
	}
	if !p.claimStart() {
		return startReply{}, errState("process already started")
	}
	if p.id == "" {
		if err := v.s.c.Exec(); err != nil {
			return startReply{}, errStart(err)
		}
	} else {
		err := v.s.reaper.spawn(func() (int, error) {
			if err := v.s.c.Run(p.lp); err != nil {
				return 0, err
			}
			pid, _ := p.lp.Pid()
			return pid, nil
		})
		if err != nil {
			se := newStartError(err.Error())
			p.fail(se.ExitCode, se.Msg)
			return startReply{}, errStart(se)
		}
		if err := p.started(); err != nil {
			_ = p.lp.Signal(unix.SIGKILL)
			return startReply{}, err
		}
	}
	p.mu.Lock()
	if p.status == Created {
		p.status = Running
	}
	pid := p.pid
	p.mu.Unlock()
	return startReply{Pid: pid}, nil
}

func (v *service) Wait(ctx context.Context, execID string) (ExitStatus, error) {
	p, err := v.proc(execID)
	if err != nil {
		return ExitStatus{}, err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		return ExitStatus{}, ctx.Err()
	}
	return exitStatus(p), nil
}

// exitStatus is how p, which has exited, ended.
func exitStatus(p *process) ExitStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ExitStatus{Code: p.exitCode, ExitedAt: p.exitedAt, Error: p.exitErr}
}

func (v *service) Kill(r killRequest) error {
	p, err := v.proc(r.ExecID)
	if err != nil {
		return err
	}
	sig := unix.Signal(r.Signal)
	if sig <= 0 || sig > 64 {
		return rpc.Errorf(codeInvalid, "invalid signal %d", r.Signal)
	}
	if r.All {
		if p.id != "" {
			return rpc.Errorf(codeInvalid, "all applies to the container's init only")
		}
		return v.s.signalAll(sig)
	}
	p.mu.Lock()
	st := p.status
	p.mu.Unlock()
	if st == Stopped || p.pid == 0 {
		return errNotRunning()
	}
	if p.id == "" {
		err = v.s.c.Signal(sig)
	} else {
		err = p.lp.Signal(sig)
	}
	if err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) || errors.Is(err, os.ErrProcessDone) {
			return errNotRunning()
		}
		return err
	}
	return nil
}

// signalAll signals every process in the container's cgroup.
func (s *shim) signalAll(sig unix.Signal) error {
	if sig == unix.SIGKILL {
		// Frozen tasks die only once thawed.
		if st, err := s.c.Status(); err == nil && st == libcontainer.Paused {
			_ = s.c.Resume()
		}
	}
	pids, err := s.c.Processes()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			return err
		}
	}
	return nil
}

func (v *service) Resize(r resizeRequest) error {
	p, err := v.proc(r.ExecID)
	if err != nil {
		return err
	}
	if !p.tty {
		return errState("process has no tty")
	}
	if err := p.resize(r.Width, r.Height); err != nil {
		if errors.Is(err, ErrState) || errors.Is(err, os.ErrClosed) {
			return errNotRunning()
		}
		return err
	}
	return nil
}

func (v *service) CloseStdin(execID string) error {
	p, err := v.proc(execID)
	if err != nil {
		return err
	}
	p.closeStdin()
	return nil
}

func (v *service) Pause() error {
	if err := v.s.c.Pause(); err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) {
			return errNotRunning()
		}
		return err
	}
	return nil
}

func (v *service) Resume() error {
	if err := v.s.c.Resume(); err != nil {
		if errors.Is(err, libcontainer.ErrNotPaused) {
			return errState("container is not paused")
		}
		return err
	}
	return nil
}

func (v *service) Pids() ([]int, error) {
	return v.s.c.Processes()
}

func (v *service) Exec(r execRequest) error {
	if err := validID(r.ExecID); err != nil {
		return rpc.Errorf(codeInvalid, "%v", err)
	}
	if r.Process == nil {
		return rpc.Errorf(codeInvalid, "exec %q: no process", r.ExecID)
	}
	s := v.s
	if st := s.init.state().Status; st != Running {
		return errState("container is %s", st)
	}
	if cs, err := s.c.Status(); err == nil && cs == libcontainer.Paused {
		return errState("container is paused")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleting {
		return errState("container is being deleted")
	}
	// Again under s.mu: once the init is stopped, destroyStopped may be
	// destroying the container.
	if st := s.init.state().Status; st != Running {
		return errState("container is %s", st)
	}
	if _, ok := s.execs[r.ExecID]; ok {
		return rpc.Errorf(codeAlreadyExists, "exec %q: %v", r.ExecID, ErrAlreadyExists)
	}
	p, err := newProcess(s, r.ExecID, r.Process, r.Tty, r.Stdin)
	if err != nil {
		return rpc.Errorf(codeInvalid, "%v", err)
	}
	if err := p.listen(); err != nil {
		p.closeFiles()
		return err
	}
	s.execs[r.ExecID] = p
	return nil
}

func (v *service) Delete(execID string) (ExitStatus, error) {
	s := v.s
	if execID != "" {
		p, err := v.proc(execID)
		if err != nil {
			return ExitStatus{}, err
		}
		p.mu.Lock()
		st := p.status
		p.mu.Unlock()
		if st == Running {
			return ExitStatus{}, errState("exec %q is running", execID)
		}
		if st == Created {
			p.fail(255, "deleted before start")
		}
		s.mu.Lock()
		delete(s.execs, execID)
		s.mu.Unlock()
		p.closeAttach()
		return exitStatus(p), nil
	}

	s.mu.Lock()
	s.deleting = true
	execs := make([]*process, 0, len(s.execs))
	for _, p := range s.execs {
		execs = append(execs, p)
	}
	s.mu.Unlock()
	p := s.init
	select {
	case <-p.exited:
	default:
		if err := s.c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
			logf("delete: kill: %v", err)
		}
		select {
		case <-p.exited:
		case <-time.After(deleteTimeout):
			return ExitStatus{}, rpc.Errorf(rpc.CodeDeadlineExceeded, "container did not exit after SIGKILL")
		}
	}
	for _, e := range execs {
		if e.state().Status == Running {
			_ = e.lp.Signal(unix.SIGKILL)
		} else if e.state().Status == Created {
			e.fail(255, "deleted before start")
		}
	}
	for _, e := range execs {
		select {
		case <-e.exited:
		case <-time.After(deleteTimeout):
		}
		e.closeAttach()
	}
	if err := s.destroyContainer(); err != nil {
		return ExitStatus{}, err
	}
	p.closeAttach()
	os.Remove(SocketPath(s.bundle))
	os.Remove(filepath.Join(s.bundle, pidFileName))
	go s.shutdown()
	return exitStatus(p), nil
}
