package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/runtime/shim"
	"github.com/ctrd/ctrd/runtime/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// execExits remembers how exec'd processes ended, so the client can ask
// after the shim has forgotten them.
type execExits struct {
	mu sync.Mutex
	m  map[string]int
}

func (e *execExits) set(id string, code int) {
	e.mu.Lock()
	if e.m == nil {
		e.m = map[string]int{}
	}
	if len(e.m) > 10000 { // bound memory: old entries are of no use
		e.m = map[string]int{}
	}
	e.m[id] = code
	e.mu.Unlock()
}

func (e *execExits) get(id string) (int, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.m[id]
	return c, ok
}

func (s *containersService) running(ref string) (*container, *shim.Client, error) {
	c, err := s.get(ref)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shim == nil || c.rec.State.Status != stateRunning {
		if c.rec.State.Status == statePaused {
			return nil, nil, errdefs.Conflict(fmt.Errorf("Container %s is paused, unpause the container before exec", c.rec.ID))
		}
		return nil, nil, errdefs.Conflict(fmt.Errorf("Container %s is not running", c.rec.ID))
	}
	return c, c.shim, nil
}

func (s *containersService) ExecCreate(ctx context.Context, req *api.ExecCreateRequest) (*api.ExecCreateResponse, error) {
	c, cl, err := s.running(req.Id)
	if err != nil {
		return nil, err
	}
	if len(req.Cmd) == 0 {
		return nil, errdefs.InvalidArgument(errors.New("No exec command specified"))
	}
	bundle := s.d.bundleDir(c.rec.ID)
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read container spec: %w", err)
	}
	var cs specs.Spec
	if err := json.Unmarshal(b, &cs); err != nil {
		return nil, fmt.Errorf("read container spec: %w", err)
	}
	p := *cs.Process
	p.Args = req.Cmd
	p.Terminal = req.Tty
	p.ConsoleSize = nil
	env := append([]string{}, p.Env...)
	for _, kv := range req.Env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, errdefs.InvalidArgument(fmt.Errorf("invalid environment variable: %s", kv))
		}
		env = setEnv(env, k, kv)
	}
	if req.Tty {
		env = setEnv(env, "TERM", "TERM=xterm")
	}
	p.Env = env
	if req.Workdir != "" {
		p.Cwd = req.Workdir
	}
	if req.User != "" {
		uid, gid, groups, err := spec.ResolveUser(s.d.rootfsDir(c.rec.ID), req.User)
		if err != nil {
			return nil, errdefs.InvalidArgument(err)
		}
		p.User = specs.User{UID: uid, GID: gid, AdditionalGids: groups}
	}
	if req.Privileged && p.Capabilities != nil {
		all := allCaps()
		p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	execID := newID()[:16]
	if err := cl.Exec(ctx, shim.ExecOptions{ID: execID, Process: &p, Tty: req.Tty, Stdin: req.Stdin}); err != nil {
		return nil, err
	}
	return &api.ExecCreateResponse{ExecId: execID, AttachSocket: shim.AttachSocketPath(bundle, execID)}, nil
}

func allCaps() []string {
	out := make([]string, len(allCapabilities))
	for i, c := range allCapabilities {
		out[i] = "CAP_" + c
	}
	return out
}

func (s *containersService) ExecStart(ctx context.Context, req *api.ExecStartRequest) (*api.Empty, error) {
	_, cl, err := s.running(req.Id)
	if err != nil {
		return nil, err
	}
	if _, err := cl.StartExec(ctx, req.ExecId); err != nil {
		var se *shim.StartError
		if errors.As(err, &se) {
			s.d.execs.set(req.ExecId, se.ExitCode)
			_, _ = cl.DeleteExec(ctx, req.ExecId)
		}
		return nil, err
	}
	go func() {
		st, err := cl.WaitExec(context.Background(), req.ExecId)
		if err != nil {
			logrus.WithError(err).Debug("exec wait")
			return
		}
		s.d.execs.set(req.ExecId, st.Code)
		_, _ = cl.DeleteExec(context.Background(), req.ExecId)
	}()
	return empty, nil
}

func (s *containersService) ExecResize(ctx context.Context, req *api.ExecResizeRequest) (*api.Empty, error) {
	_, cl, err := s.running(req.Id)
	if err != nil {
		return nil, err
	}
	return empty, cl.ResizeExec(ctx, req.ExecId, req.Width, req.Height)
}

func (s *containersService) ExecInspect(ctx context.Context, req *api.ExecStartRequest) (*api.ExecInspectResponse, error) {
	if code, ok := s.d.execs.get(req.ExecId); ok {
		return &api.ExecInspectResponse{Running: false, ExitCode: int32(code)}, nil
	}
	_, cl, err := s.running(req.Id)
	if err != nil {
		return nil, err
	}
	st, err := cl.ExecState(ctx, req.ExecId)
	if err != nil {
		if errors.Is(err, shim.ErrNotFound) {
			if code, ok := s.d.execs.get(req.ExecId); ok {
				return &api.ExecInspectResponse{ExitCode: int32(code)}, nil
			}
			return nil, errdefs.NotFound(fmt.Errorf("No such exec instance: %s", req.ExecId))
		}
		return nil, err
	}
	return &api.ExecInspectResponse{Running: st.Status == shim.Running, ExitCode: int32(st.ExitCode), Pid: int32(st.Pid)}, nil
}
