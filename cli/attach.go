package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/runtime/attach"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// session is one attached terminal: raw mode, window size forwarding and
// Docker's detach keys (ctrl-p ctrl-q).
type session struct {
	in        io.Reader
	restore   func()
	resize    chan [2]uint32
	stopWinch func()
	detached  chan struct{}
}

// newSession prepares stdin/terminal for an attach. With tty, a terminal
// stdin goes raw and its size follows SIGWINCH.
func (c *CLI) newSession(stdin, tty bool) *session {
	s := &session{restore: func() {}, stopWinch: func() {}, detached: make(chan struct{})}
	inFile, isFile := c.In.(*os.File)
	isTerm := isFile && term.IsTerminal(int(inFile.Fd()))
	if stdin {
		s.in = &detachReader{r: c.In, detached: s.detached}
	}
	if tty && isTerm {
		if st, err := term.MakeRaw(int(inFile.Fd())); err == nil {
			s.restore = func() { _ = term.Restore(int(inFile.Fd()), st) }
		}
	}
	if tty {
		s.resize = make(chan [2]uint32, 1)
		fd := -1
		if f, ok := c.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fd = int(f.Fd())
		} else if isTerm {
			fd = int(inFile.Fd())
		}
		if fd >= 0 {
			send := func() {
				if w, h, err := term.GetSize(fd); err == nil {
					select {
					case s.resize <- [2]uint32{uint32(w), uint32(h)}:
					default:
					}
				}
			}
			send()
			ch := make(chan os.Signal, 1)
			signal.Notify(ch, syscall.SIGWINCH)
			done := make(chan struct{})
			go func() {
				for {
					select {
					case <-ch:
						send()
					case <-done:
						return
					}
				}
			}()
			s.stopWinch = func() { signal.Stop(ch); close(done) }
		}
	}
	return s
}

func (s *session) close() {
	s.stopWinch()
	s.restore()
}

// detachReader passes stdin through until ctrl-p ctrl-q, then ends the
// session without stopping the process.
type detachReader struct {
	r        io.Reader
	sawP     bool
	detached chan struct{}
	closed   bool
}

func (d *detachReader) Read(p []byte) (int, error) {
	if d.closed {
		return 0, io.EOF
	}
	n, err := d.r.Read(p)
	out := p[:0]
	for _, b := range p[:n] {
		if d.sawP {
			d.sawP = false
			if b == 0x11 { // ctrl-q
				d.closed = true
				close(d.detached)
				return len(out), errDetached
			}
			out = append(out, 0x10)
		}
		if b == 0x10 { // ctrl-p
			d.sawP = true
			continue
		}
		out = append(out, b)
	}
	return len(out), err
}

var errDetached = errors.New("detached")

// runSession attaches to socket, calls begin once connected (to let a held
// process run), and copies streams until the process ends or the user
// detaches. It returns the attach result and whether the user detached.
func (c *CLI) runSession(ctx context.Context, socket string, stdin, tty bool, begin func() error) (attach.Result, bool, error) {
	conn, err := attach.Dial(ctx, socket)
	if err != nil {
		return attach.Result{}, false, err
	}
	s := c.newSession(stdin, tty)
	defer s.close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.detached:
			cancel()
		case <-sctx.Done():
		}
	}()
	if begin != nil {
		if err := begin(); err != nil {
			conn.Close()
			return attach.Result{}, false, err
		}
	}
	streams := attach.Streams{Stdout: c.Out, Resize: s.resize}
	if s.in != nil {
		streams.Stdin = s.in
	}
	if !tty {
		streams.Stderr = c.Err
	}
	res, err := attach.Session(sctx, conn, streams)
	select {
	case <-s.detached:
		return res, true, nil
	default:
	}
	if err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		return res, false, err
	}
	return res, false, nil
}

// startAttached starts a container with its stdio attached, as `run`
// without -d and `start -a` do, and returns its exit code as the error.
func (c *CLI) startAttached(ctx context.Context, cl *api.Client, id string, stdin, tty, rm bool) error {
	resp, err := cl.Containers.Start(ctx, &api.StartContainerRequest{Id: id, AttachFirst: true})
	if err != nil {
		return c.startFailed(ctx, cl, id, rm, err)
	}
	for _, w := range resp.Warnings {
		fmt.Fprintln(c.Err, "WARNING: "+w)
	}
	res, detached, err := c.runSession(ctx, resp.AttachSocket, stdin, resp.Tty, func() error {
		_, err := cl.Containers.Begin(ctx, &api.ContainerRequest{Id: id})
		return err
	})
	if err != nil {
		return c.startFailed(ctx, cl, id, rm, err)
	}
	if detached {
		return nil
	}
	return c.exitStatus(ctx, cl, id, res, rm)
}

// exitStatus turns a container's end into the CLI's exit code.
func (c *CLI) exitStatus(ctx context.Context, cl *api.Client, id string, res attach.Result, rm bool) error {
	code := res.ExitCode
	cond := "not-running"
	if rm {
		cond = "removed"
	}
	w, err := cl.Containers.Wait(context.Background(), &api.WaitContainerRequest{Id: id, Condition: cond})
	switch {
	case err == nil && !res.Exited:
		code = int(w.ExitCode)
	case err != nil && !res.Exited && !errdefs.IsNotFound(err):
		return daemonError(err)
	}
	if code != 0 {
		return &StatusError{Code: code, Silence: true}
	}
	return nil
}

func (c *CLI) startCommand() *cobra.Command {
	var doAttach, interactive bool
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := c.Client(ctx)
			if err != nil {
				return err
			}
			if doAttach || interactive {
				if len(args) > 1 {
					return &StatusError{Status: "you cannot start and attach multiple containers at once", Code: 1}
				}
				return c.startAttached(ctx, cl, args[0], interactive, false, false)
			}
			return forEach(c, args, func(name string) error {
				_, err := cl.Containers.Start(ctx, &api.StartContainerRequest{Id: name})
				return err
			}, func(name string) { fmt.Fprintln(c.Out, name) })
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.BoolVarP(&doAttach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
		f.BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	})
	return cmd
}

func (c *CLI) attachCommand() *cobra.Command {
	var noStdin bool
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := c.Client(ctx)
			if err != nil {
				return err
			}
			resp, err := cl.Containers.Attach(ctx, &api.ContainerRequest{Id: args[0]})
			if err != nil {
				return daemonError(err)
			}
			res, detached, err := c.runSession(ctx, resp.AttachSocket, resp.OpenStdin && !noStdin, resp.Tty, nil)
			if err != nil {
				return daemonError(err)
			}
			if detached {
				return nil
			}
			return c.exitStatus(ctx, cl, args[0], res, false)
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
		f.String("detach-keys", "ctrl-p,ctrl-q", "Override the key sequence for detaching a container")
	})
	return cmd
}

func (c *CLI) execCommand() *cobra.Command {
	var (
		detach, interactive, tty, privileged bool
		env                                  []string
		workdir, user                        string
	)
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := c.Client(ctx)
			if err != nil {
				return err
			}
			for _, e := range env {
				if _, err := parseEnv(e); err != nil {
					return &StatusError{Status: "ctr: " + err.Error(), Code: 125}
				}
			}
			id := args[0]
			resp, err := cl.Containers.ExecCreate(ctx, &api.ExecCreateRequest{
				Id: id, Cmd: args[1:], Env: env, Workdir: workdir, User: user,
				Tty: tty, Stdin: interactive, Privileged: privileged,
			})
			if err != nil {
				return &StatusError{Status: "Error response from daemon: " + errdefs.Message(err), Code: 125}
			}
			start := func() error {
				_, err := cl.Containers.ExecStart(ctx, &api.ExecStartRequest{Id: id, ExecId: resp.ExecId})
				return err
			}
			if detach {
				if err := start(); err != nil {
					return c.execFailed(ctx, cl, id, resp.ExecId, err)
				}
				return nil
			}
			res, detached, err := c.runSession(ctx, resp.AttachSocket, interactive, tty, start)
			if err != nil {
				return c.execFailed(ctx, cl, id, resp.ExecId, err)
			}
			if detached {
				return nil
			}
			code := res.ExitCode
			if !res.Exited {
				ins, err := cl.Containers.ExecInspect(ctx, &api.ExecStartRequest{Id: id, ExecId: resp.ExecId})
				if err != nil {
					return daemonError(err)
				}
				code = int(ins.ExitCode)
			}
			if code != 0 {
				return &StatusError{Code: code, Silence: true}
			}
			return nil
		},
	}
	c.lazyFlags(cmd, func(f *pflag.FlagSet) {
		f.SetInterspersed(false)
		f.BoolVarP(&detach, "detach", "d", false, "Detached mode: run command in the background")
		f.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
		f.BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY")
		f.BoolVar(&privileged, "privileged", false, "Give extended privileges to the command")
		stringArrayVar(f, &env, "env", "e", "Set environment variables")
		f.StringVarP(&workdir, "workdir", "w", "", "Working directory inside the container")
		f.StringVarP(&user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	})
	return cmd
}

func (c *CLI) execFailed(ctx context.Context, cl *api.Client, id, execID string, err error) error {
	code := 126
	if ins, ierr := cl.Containers.ExecInspect(ctx, &api.ExecStartRequest{Id: id, ExecId: execID}); ierr == nil && (ins.ExitCode == 126 || ins.ExitCode == 127) {
		code = int(ins.ExitCode)
	}
	return &StatusError{Status: "ctr: Error response from daemon: " + errdefs.Message(err), Code: code}
}

// forEach runs fn for each argument, printing ok for successes and
// collecting errors as Docker's multi-container commands do.
func forEach(c *CLI, args []string, fn func(string) error, ok func(string)) error {
	var failed []string
	for _, a := range args {
		if err := fn(a); err != nil {
			failed = append(failed, daemonError(err).Error())
			continue
		}
		if ok != nil {
			ok(a)
		}
	}
	if len(failed) > 0 {
		msg := failed[0]
		for _, f := range failed[1:] {
			msg += "\n" + f
		}
		return &StatusError{Status: msg, Code: 1}
	}
	return nil
}
