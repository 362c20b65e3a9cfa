package shim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	shimapi "github.com/ctrd/ctrd/api/shim"
	"github.com/ctrd/ctrd/runtime/attach"
)

// Client talks to one container's shim. It is safe for concurrent use;
// calls such as Wait may block while others proceed.
type Client struct {
	bundle string
	tc     *ttrpc.Client
	api    shimapi.ShimService
}

// Start spawns the shim for a container, which creates the container (its
// process is set up but the user's program not yet executed, like
// `runc create`), and returns once the shim is serving. Failures of the
// container's process to start are *StartError. Cancelling ctx during the
// creation kills the shim and cleans up.
func Start(ctx context.Context, o StartOptions) (*Client, error) {
	if err := validID(o.ID); err != nil {
		return nil, err
	}
	if o.Bundle == "" || o.StateRoot == "" {
		return nil, errors.New("shim: Bundle and StateRoot are required")
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, err
	}
	bin := o.Binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	logPath := o.ShimLog
	if logPath == "" {
		logPath = filepath.Join(bundle, shimLogName)
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("shim log: %w", err)
	}
	defer logFile.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()

	args := shimArgs(o, bundle)
	proc, exited, err := spawn(o, bin, bundle, args, logFile, w)
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("start shim: %w", err)
	}
	if o.Standby != nil {
		// The next spare is started once this container is created
		// and running: started now, it would slow this start down by
		// competing for the CPU.
		defer o.Standby.RefillLater()
	}

	type result struct {
		msg readyMsg
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(r)
		var m readyMsg
		if err == nil {
			if b = bytes.TrimSpace(b); len(b) == 0 {
				err = errors.New("shim exited without reporting")
			} else {
				err = json.Unmarshal(b, &m)
			}
		}
		ch <- result{m, err}
	}()
	var res result
	select {
	case res = <-ch:
	case <-ctx.Done():
		_ = proc.Kill()
		<-exited
		_ = Cleanup(o.StateRoot, bundle, o.ID)
		return nil, ctx.Err()
	}
	if res.err == nil && res.msg.Error != "" {
		if res.msg.Start {
			res.err = newStartError(res.msg.Error)
		} else {
			res.err = fmt.Errorf("shim: %s", res.msg.Error)
		}
	}
	if res.err != nil {
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = proc.Kill()
			<-exited
		}
		var se *StartError
		if !errors.As(res.err, &se) && res.msg.Error == "" {
			res.err = fmt.Errorf("%w (shim log: %s)", res.err, tail(logPath, 512))
		}
		return nil, res.err
	}
	c, err := Connect(ctx, bundle)
	if err != nil {
		_ = proc.Kill()
		<-exited
		_ = Cleanup(o.StateRoot, bundle, o.ID)
		return nil, err
	}
	return c, nil
}

// spawn starts the shim process for args: the Standby's spare if one is
// waiting (and o names its binary), else a new process.
func spawn(o StartOptions, bin, bundle string, args []string, logFile, ready *os.File) (*os.Process, chan struct{}, error) {
	var cmd *exec.Cmd
	sb := o.Standby
	if sb != nil && sb.Binary() != bin {
		sb = nil
	}
	if sb != nil {
		if sp := sb.claim(); sp != nil {
			if err := sb.assign(sp, args, logFile, ready); err == nil {
				return sp.cmd.Process, sp.exited, nil
			}
		}
		cmd = sb.command(args)
	} else {
		cmd = &exec.Cmd{
			Path:        bin,
			Args:        append([]string{bin}, args...),
			Env:         shimEnv(),
			SysProcAttr: &syscall.SysProcAttr{Setsid: true},
		}
	}
	cmd.Dir = bundle
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{ready}
	var err error
	if sb != nil {
		cmd, err = sb.start(cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return nil, nil, err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return cmd.Process, exited, nil
}

// shimEnv is the environment of a shim: ctrd's, without what systemd
// hands to ctrd alone.
func shimEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC", "GOMAXPROCS":
			continue
		}
		env = append(env, kv)
	}
	// One P: a shim mostly waits, and does one thing at a time when
	// it does not. More Ps only start threads and spin, taking CPU
	// from the container being started (2-3 ms per run --rm on 2
	// CPUs, measured).
	return append(env, "GOMAXPROCS=1")
}

func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// Connect attaches to the shim of the container in bundle, e.g. after a
// ctrd restart. It returns an error wrapping ErrShimGone when no shim
// listens there.
func Connect(ctx context.Context, bundle string) (*Client, error) {
	conn, err := attach.DialSocket(ctx, SocketPath(bundle))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w: %v", ErrShimGone, err)
		}
		return nil, err
	}
	return newClient(bundle, conn), nil
}

func newClient(bundle string, conn net.Conn) *Client {
	tc := ttrpc.NewClient(conn)
	return &Client{bundle: bundle, tc: tc, api: shimapi.NewShimClient(tc)}
}

// Close closes the connection; the shim and container keep running.
func (c *Client) Close() error {
	return c.tc.Close()
}

// Bundle is the container's bundle directory.
func (c *Client) Bundle() string { return c.bundle }

// fromRPC turns wire errors back into this package's errors.
func (c *Client) fromRPC(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ttrpc.ErrClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%w: %v", ErrShimGone, err)
	}
	s, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch s.Code() {
	case codes.NotFound:
		return fmt.Errorf("%w: %s", ErrNotFound, s.Message())
	case codes.AlreadyExists:
		return fmt.Errorf("%w: %s", ErrAlreadyExists, s.Message())
	case codes.FailedPrecondition:
		if s.Message() == ErrNotRunning.Error() {
			return ErrNotRunning
		}
		return fmt.Errorf("%w: %s", ErrState, strings.TrimPrefix(s.Message(), ErrState.Error()+": "))
	case codes.Aborted:
		return newStartError(s.Message())
	case codes.Canceled:
		return context.Canceled
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	}
	return errors.New(s.Message())
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Start executes the user's program in the created container and returns
// its pid. Attach first (AttachSocketPath) to see its output from the first
// byte.
func (c *Client) Start(ctx context.Context) (int, error) {
	r, err := c.api.Start(ctx, &shimapi.StartRequest{})
	if err != nil {
		return 0, c.fromRPC(err)
	}
	return int(r.Pid), nil
}

// State of the container's init process.
func (c *Client) State(ctx context.Context) (State, error) {
	return c.ExecState(ctx, "")
}

// Wait blocks until the container's init process exited and its output
// was drained, or ctx is done. When the shim died, the exit record of
// ReadExitFile is returned if there is one.
func (c *Client) Wait(ctx context.Context) (ExitStatus, error) {
	st, err := c.WaitExec(ctx, "")
	if errors.Is(err, ErrShimGone) {
		if est, ok, rerr := ReadExitFile(c.bundle); rerr == nil && ok {
			return est, nil
		}
	}
	return st, err
}

// Kill signals the init process, or with all every process of the
// container.
func (c *Client) Kill(ctx context.Context, sig syscall.Signal, all bool) error {
	_, err := c.api.Kill(ctx, &shimapi.KillRequest{Signal: uint32(sig), All: all})
	return c.fromRPC(err)
}

// Resize sets the size of the init process's pty.
func (c *Client) Resize(ctx context.Context, width, height uint32) error {
	return c.ResizeExec(ctx, "", width, height)
}

// CloseStdin closes the init process's stdin pipe.
func (c *Client) CloseStdin(ctx context.Context) error {
	_, err := c.api.CloseStdin(ctx, &shimapi.CloseStdinRequest{})
	return c.fromRPC(err)
}

// Pause freezes every process of the container (freezer cgroup).
func (c *Client) Pause(ctx context.Context) error {
	_, err := c.api.Pause(ctx, &shimapi.Empty{})
	return c.fromRPC(err)
}

// Resume thaws a paused container.
func (c *Client) Resume(ctx context.Context) error {
	_, err := c.api.Resume(ctx, &shimapi.Empty{})
	return c.fromRPC(err)
}

// Pids lists the host pids of the container's processes.
func (c *Client) Pids(ctx context.Context) ([]int, error) {
	r, err := c.api.Pids(ctx, &shimapi.Empty{})
	if err != nil {
		return nil, c.fromRPC(err)
	}
	pids := make([]int, len(r.Pids))
	for i, p := range r.Pids {
		pids[i] = int(p)
	}
	return pids, nil
}

// Delete kills what still runs of the container, destroys it (cgroups,
// libcontainer state) and makes the shim exit. It returns the init
// process's exit status. The Client is closed.
func (c *Client) Delete(ctx context.Context) (ExitStatus, error) {
	r, err := c.api.Delete(ctx, &shimapi.DeleteRequest{})
	if err != nil {
		return ExitStatus{}, c.fromRPC(err)
	}
	// The shim exits on its own once this connection is closed. It is
	// not waited for: it holds nothing of the container any more (the
	// cgroups and libcontainer's state are gone, the rootfs mount is the
	// caller's), so the caller may unmount and remove the bundle now.
	c.Close()
	return ExitStatus{Code: int(r.ExitCode), ExitedAt: fromUnixNano(r.ExitedAtUnixNano), Error: r.Error}, nil
}

// Exec registers a process to run in the running container and opens its
// attach socket (AttachSocketPath(bundle, o.ID)); StartExec runs it.
func (c *Client) Exec(ctx context.Context, o ExecOptions) error {
	if o.Process == nil {
		return errors.New("exec: no process")
	}
	b, err := json.Marshal(o.Process)
	if err != nil {
		return err
	}
	_, err = c.api.Exec(ctx, &shimapi.ExecRequest{ExecId: o.ID, Process: b, Tty: o.Tty, Stdin: o.Stdin})
	return c.fromRPC(err)
}

// StartExec runs a registered exec process and returns its pid. A failure
// to start it is a *StartError (127: not found, 126: not executable).
func (c *Client) StartExec(ctx context.Context, execID string) (int, error) {
	if execID == "" {
		return 0, errors.New("exec id required")
	}
	r, err := c.api.Start(ctx, &shimapi.StartRequest{ExecId: execID})
	if err != nil {
		return 0, c.fromRPC(err)
	}
	return int(r.Pid), nil
}

// ExecState is the state of an exec process ("" for init).
func (c *Client) ExecState(ctx context.Context, execID string) (State, error) {
	r, err := c.api.State(ctx, &shimapi.StateRequest{ExecId: execID})
	if err != nil {
		return State{}, c.fromRPC(err)
	}
	return State{
		ID:           r.Id,
		ExecID:       r.ExecId,
		Pid:          int(r.Pid),
		Status:       Status(r.Status),
		ExitCode:     int(r.ExitCode),
		StartedAt:    fromUnixNano(r.StartedAtUnixNano),
		ExitedAt:     fromUnixNano(r.ExitedAtUnixNano),
		Tty:          r.Tty,
		Stdin:        r.Stdin,
		ShimPid:      int(r.ShimPid),
		AttachSocket: r.AttachSocket,
	}, nil
}

// WaitExec blocks until an exec process ("" for init) exited.
func (c *Client) WaitExec(ctx context.Context, execID string) (ExitStatus, error) {
	r, err := c.api.Wait(ctx, &shimapi.WaitRequest{ExecId: execID})
	if err != nil {
		return ExitStatus{}, c.fromRPC(err)
	}
	return ExitStatus{Code: int(r.ExitCode), ExitedAt: fromUnixNano(r.ExitedAtUnixNano), Error: r.Error}, nil
}

// KillExec signals an exec process.
func (c *Client) KillExec(ctx context.Context, execID string, sig syscall.Signal) error {
	if execID == "" {
		return errors.New("exec id required")
	}
	_, err := c.api.Kill(ctx, &shimapi.KillRequest{ExecId: execID, Signal: uint32(sig)})
	return c.fromRPC(err)
}

// ResizeExec sets the pty size of an exec process ("" for init).
func (c *Client) ResizeExec(ctx context.Context, execID string, width, height uint32) error {
	_, err := c.api.Resize(ctx, &shimapi.ResizeRequest{ExecId: execID, Width: width, Height: height})
	return c.fromRPC(err)
}

// CloseExecStdin closes an exec process's stdin pipe.
func (c *Client) CloseExecStdin(ctx context.Context, execID string) error {
	_, err := c.api.CloseStdin(ctx, &shimapi.CloseStdinRequest{ExecId: execID})
	return c.fromRPC(err)
}

// DeleteExec forgets an exited (or never started) exec process and
// removes its attach socket.
func (c *Client) DeleteExec(ctx context.Context, execID string) (ExitStatus, error) {
	if execID == "" {
		return ExitStatus{}, errors.New("exec id required")
	}
	r, err := c.api.Delete(ctx, &shimapi.DeleteRequest{ExecId: execID})
	if err != nil {
		return ExitStatus{}, c.fromRPC(err)
	}
	return ExitStatus{Code: int(r.ExitCode), ExitedAt: fromUnixNano(r.ExitedAtUnixNano), Error: r.Error}, nil
}
