package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	shimapi "github.com/ctrd/ctrd/api/shim"
)

// deleteTimeout bounds how long Delete waits for a killed init to exit.
const deleteTimeout = 10 * time.Second

// service implements the ttrpc API.
type service struct {
	s *shim
}

var empty = &shimapi.Empty{}

// Errors on the wire: sentinel errors travel as status codes.
func errNotFound(id string) error {
	return status.Errorf(codes.NotFound, "exec %q: %v", id, ErrNotFound)
}

func errState(format string, args ...any) error {
	return status.Errorf(codes.FailedPrecondition, "%v: %s", ErrState, fmt.Sprintf(format, args...))
}

func errNotRunning() error {
	return status.Error(codes.FailedPrecondition, ErrNotRunning.Error())
}

func errStart(err error) error {
	return status.Error(codes.Aborted, err.Error())
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

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (v *service) State(ctx context.Context, r *shimapi.StateRequest) (*shimapi.StateResponse, error) {
	p, err := v.proc(r.ExecId)
	if err != nil {
		return nil, err
	}
	st := p.state()
	if p.id == "" && st.Status == Running {
		if cs, err := v.s.c.Status(); err == nil && cs == libcontainer.Paused {
			st.Status = Paused
		}
	}
	return &shimapi.StateResponse{
		Id:                v.s.id,
		ExecId:            st.ExecID,
		Pid:               uint32(st.Pid),
		Status:            string(st.Status),
		ExitCode:          int32(st.ExitCode),
		StartedAtUnixNano: unixNano(st.StartedAt),
		ExitedAtUnixNano:  unixNano(st.ExitedAt),
		Tty:               st.Tty,
		Stdin:             st.Stdin,
		ShimPid:           uint32(st.ShimPid),
		AttachSocket:      st.AttachSocket,
	}, nil
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

func (v *service) Start(ctx context.Context, r *shimapi.StartRequest) (*shimapi.StartResponse, error) {
	p, err := v.proc(r.ExecId)
	if err != nil {
		return nil, err
	}
	if !p.claimStart() {
		return nil, errState("process already started")
	}
	if p.id == "" {
		if err := v.s.c.Exec(); err != nil {
			return nil, errStart(err)
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
			return nil, errStart(se)
		}
		if err := p.started(); err != nil {
			_ = p.lp.Signal(unix.SIGKILL)
			return nil, err
		}
	}
	p.mu.Lock()
	if p.status == Created {
		p.status = Running
	}
	pid := p.pid
	p.mu.Unlock()
	return &shimapi.StartResponse{Pid: uint32(pid)}, nil
}

func (v *service) Wait(ctx context.Context, r *shimapi.WaitRequest) (*shimapi.WaitResponse, error) {
	p, err := v.proc(r.ExecId)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	st := p.state()
	p.mu.Lock()
	msg := p.exitErr
	p.mu.Unlock()
	return &shimapi.WaitResponse{ExitCode: int32(st.ExitCode), ExitedAtUnixNano: unixNano(st.ExitedAt), Error: msg}, nil
}

func (v *service) Kill(ctx context.Context, r *shimapi.KillRequest) (*shimapi.Empty, error) {
	p, err := v.proc(r.ExecId)
	if err != nil {
		return nil, err
	}
	sig := unix.Signal(r.Signal)
	if sig <= 0 || sig > 64 {
		return nil, status.Errorf(codes.InvalidArgument, "invalid signal %d", r.Signal)
	}
	if r.All {
		if p.id != "" {
			return nil, status.Error(codes.InvalidArgument, "all applies to the container's init only")
		}
		return empty, v.s.signalAll(sig)
	}
	p.mu.Lock()
	st := p.status
	p.mu.Unlock()
	if st == Stopped || p.pid == 0 {
		return nil, errNotRunning()
	}
	if p.id == "" {
		err = v.s.c.Signal(sig)
	} else {
		err = p.lp.Signal(sig)
	}
	if err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) || errors.Is(err, os.ErrProcessDone) {
			return nil, errNotRunning()
		}
		return nil, err
	}
	return empty, nil
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

func (v *service) Resize(ctx context.Context, r *shimapi.ResizeRequest) (*shimapi.Empty, error) {
	p, err := v.proc(r.ExecId)
	if err != nil {
		return nil, err
	}
	if !p.tty {
		return nil, errState("process has no tty")
	}
	if err := p.resize(r.Width, r.Height); err != nil {
		if errors.Is(err, ErrState) || errors.Is(err, os.ErrClosed) {
			return nil, errNotRunning()
		}
		return nil, err
	}
	return empty, nil
}

func (v *service) CloseStdin(ctx context.Context, r *shimapi.CloseStdinRequest) (*shimapi.Empty, error) {
	p, err := v.proc(r.ExecId)
	if err != nil {
		return nil, err
	}
	p.closeStdin()
	return empty, nil
}

func (v *service) Pause(ctx context.Context, _ *shimapi.Empty) (*shimapi.Empty, error) {
	if err := v.s.c.Pause(); err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) {
			return nil, errNotRunning()
		}
		return nil, err
	}
	return empty, nil
}

func (v *service) Resume(ctx context.Context, _ *shimapi.Empty) (*shimapi.Empty, error) {
	if err := v.s.c.Resume(); err != nil {
		if errors.Is(err, libcontainer.ErrNotPaused) {
			return nil, errState("container is not paused")
		}
		return nil, err
	}
	return empty, nil
}

func (v *service) Pids(ctx context.Context, _ *shimapi.Empty) (*shimapi.PidsResponse, error) {
	pids, err := v.s.c.Processes()
	if err != nil {
		return nil, err
	}
	r := &shimapi.PidsResponse{Pids: make([]uint32, len(pids))}
	for i, p := range pids {
		r.Pids[i] = uint32(p)
	}
	return r, nil
}

func (v *service) Exec(ctx context.Context, r *shimapi.ExecRequest) (*shimapi.Empty, error) {
	if err := validID(r.ExecId); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	var sp specs.Process
	if err := json.Unmarshal(r.Process, &sp); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "process: %v", err)
	}
	s := v.s
	if st := s.init.state().Status; st != Running {
		return nil, errState("container is %s", st)
	}
	if cs, err := s.c.Status(); err == nil && cs == libcontainer.Paused {
		return nil, errState("container is paused")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleting {
		return nil, errState("container is being deleted")
	}
	// Again under s.mu: once the init is stopped, destroyStopped may be
	// destroying the container.
	if st := s.init.state().Status; st != Running {
		return nil, errState("container is %s", st)
	}
	if _, ok := s.execs[r.ExecId]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "exec %q: %v", r.ExecId, ErrAlreadyExists)
	}
	p, err := newProcess(s, r.ExecId, &sp, r.Tty, r.Stdin)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := p.listen(); err != nil {
		p.closeFiles()
		return nil, err
	}
	s.execs[r.ExecId] = p
	return empty, nil
}

func (v *service) Delete(ctx context.Context, r *shimapi.DeleteRequest) (*shimapi.DeleteResponse, error) {
	s := v.s
	if r.ExecId != "" {
		p, err := v.proc(r.ExecId)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		st := p.status
		p.mu.Unlock()
		if st == Running {
			return nil, errState("exec %q is running", r.ExecId)
		}
		if st == Created {
			p.fail(255, "deleted before start")
		}
		s.mu.Lock()
		delete(s.execs, r.ExecId)
		s.mu.Unlock()
		p.closeAttach()
		return deleteResponse(p), nil
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
			return nil, status.Error(codes.DeadlineExceeded, "container did not exit after SIGKILL")
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
		return nil, err
	}
	p.closeAttach()
	os.Remove(SocketPath(s.bundle))
	os.Remove(filepath.Join(s.bundle, pidFileName))
	go s.shutdown()
	return deleteResponse(p), nil
}

func deleteResponse(p *process) *shimapi.DeleteResponse {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &shimapi.DeleteResponse{
		Pid:              uint32(p.pid),
		ExitCode:         int32(p.exitCode),
		ExitedAtUnixNano: unixNano(p.exitedAt),
		Error:            p.exitErr,
	}
}

var _ shimapi.ShimService = (*service)(nil)
