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

	"github.com/ctrd/ctrd/rpc"
	"github.com/ctrd/ctrd/runtime/attach"
)

// Client talks to one container's shim. It is safe for concurrent use;
// calls such as Wait may block while others proceed.
type Client struct {
	bundle string
	rc     *rpc.Client
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
	return &Client{bundle: bundle, rc: rpc.NewClient(conn)}
}

// Close closes the connection; the shim and container keep running.
func (c *Client) Close() error {
	return c.rc.Close()
}

// Bundle is the container's bundle directory.
func (c *Client) Bundle() string { return c.bundle }

// call makes one call of the shim's API and turns its errors back into
// this package's.
func (c *Client) call(ctx context.Context, method string, params, result any) error {
	err := c.rc.Call(ctx, method, params, result)
	if err == nil {
		return nil
	}
	if errors.Is(err, rpc.ErrClosed) {
		return fmt.Errorf("%w: %v", ErrShimGone, err)
	}
	var e *rpc.Error
	if !errors.As(err, &e) {
		return err // the caller's context
	}
	switch e.Code {
	case codeNotFound:
		return fmt.Errorf("%w: %s", ErrNotFound, e.Message)
	case codeAlreadyExists:
		return fmt.Errorf("%w: %s", ErrAlreadyExists, e.Message)
	case codeNotRunning:
		return ErrNotRunning
	case codeState:
		return fmt.Errorf("%w: %s", ErrState, e.Message)
	case codeStart:
		return newStartError(e.Message)
	case rpc.CodeCanceled:
		return context.Canceled
	case rpc.CodeDeadlineExceeded:
		return context.DeadlineExceeded
	}
	return errors.New(e.Message)
}

// Start executes the user's program in the created container and returns
// its pid. Attach first (AttachSocketPath) to see its output from the first
// byte.
func (c *Client) Start(ctx context.Context) (int, error) {
	var r startReply
	if err := c.call(ctx, methodStart, processRequest{}, &r); err != nil {
		return 0, err
	}
	return r.Pid, nil
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
	return c.call(ctx, methodKill, killRequest{Signal: int(sig), All: all}, nil)
}

// Resize sets the size of the init process's pty.
func (c *Client) Resize(ctx context.Context, width, height uint32) error {
	return c.ResizeExec(ctx, "", width, height)
}

// CloseStdin closes the init process's stdin pipe.
func (c *Client) CloseStdin(ctx context.Context) error {
	return c.CloseExecStdin(ctx, "")
}

// Pause freezes every process of the container (freezer cgroup).
func (c *Client) Pause(ctx context.Context) error {
	return c.call(ctx, methodPause, nil, nil)
}

// Resume thaws a paused container.
func (c *Client) Resume(ctx context.Context) error {
	return c.call(ctx, methodResume, nil, nil)
}

// Pids lists the host pids of the container's processes.
func (c *Client) Pids(ctx context.Context) ([]int, error) {
	var pids []int
	if err := c.call(ctx, methodPids, nil, &pids); err != nil {
		return nil, err
	}
	return pids, nil
}

// Delete kills what still runs of the container, destroys it (cgroups,
// libcontainer state) and makes the shim exit. It returns the init
// process's exit status. The Client is closed.
func (c *Client) Delete(ctx context.Context) (ExitStatus, error) {
	var st ExitStatus
	if err := c.call(ctx, methodDelete, processRequest{}, &st); err != nil {
		return ExitStatus{}, err
	}
	// The shim exits on its own once this connection is closed. It is
	// not waited for: it holds nothing of the container any more (the
	// cgroups and libcontainer's state are gone, the rootfs mount is the
	// caller's), so the caller may unmount and remove the bundle now.
	c.Close()
	return st, nil
}

// Exec registers a process to run in the running container and opens its
// attach socket (AttachSocketPath(bundle, o.ID)); StartExec runs it.
func (c *Client) Exec(ctx context.Context, o ExecOptions) error {
	if o.Process == nil {
		return errors.New("exec: no process")
	}
	return c.call(ctx, methodExec, execRequest{ExecID: o.ID, Process: o.Process, Tty: o.Tty, Stdin: o.Stdin}, nil)
}

// StartExec runs a registered exec process and returns its pid. A failure
// to start it is a *StartError (127: not found, 126: not executable).
func (c *Client) StartExec(ctx context.Context, execID string) (int, error) {
	if execID == "" {
		return 0, errors.New("exec id required")
	}
	var r startReply
	if err := c.call(ctx, methodStart, processRequest{ExecID: execID}, &r); err != nil {
		return 0, err
	}
	return r.Pid, nil
}

// ExecState is the state of an exec process ("" for init).
func (c *Client) ExecState(ctx context.Context, execID string) (State, error) {
	var st State
	if err := c.call(ctx, methodState, processRequest{ExecID: execID}, &st); err != nil {
		return State{}, err
	}
	return st, nil
}

// WaitExec blocks until an exec process ("" for init) exited.
func (c *Client) WaitExec(ctx context.Context, execID string) (ExitStatus, error) {
	var st ExitStatus
	if err := c.call(ctx, methodWait, processRequest{ExecID: execID}, &st); err != nil {
		return ExitStatus{}, err
	}
	return st, nil
}

// KillExec signals an exec process.
func (c *Client) KillExec(ctx context.Context, execID string, sig syscall.Signal) error {
	if execID == "" {
		return errors.New("exec id required")
	}
	return c.call(ctx, methodKill, killRequest{ExecID: execID, Signal: int(sig)}, nil)
}

// ResizeExec sets the pty size of an exec process ("" for init).
func (c *Client) ResizeExec(ctx context.Context, execID string, width, height uint32) error {
	return c.call(ctx, methodResize, resizeRequest{ExecID: execID, Width: width, Height: height}, nil)
}

// CloseExecStdin closes an exec process's stdin pipe.
func (c *Client) CloseExecStdin(ctx context.Context, execID string) error {
	return c.call(ctx, methodCloseStdin, processRequest{ExecID: execID}, nil)
}

// DeleteExec forgets an exited (or never started) exec process and
// removes its attach socket.
func (c *Client) DeleteExec(ctx context.Context, execID string) (ExitStatus, error) {
	if execID == "" {
		return ExitStatus{}, errors.New("exec id required")
	}
	var st ExitStatus
	if err := c.call(ctx, methodDelete, processRequest{ExecID: execID}, &st); err != nil {
		return ExitStatus{}, err
	}
	return st, nil
}
