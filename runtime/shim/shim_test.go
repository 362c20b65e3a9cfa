package shim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ctrd/ctrd/runtime/attach"
)

func TestEchoLogAndWait(t *testing.T) {
	c := newCtr(t, "echo", "hello")
	c.run()
	if st := c.wait(); st.Code != 0 || st.ExitedAt.IsZero() {
		t.Fatalf("exit = %+v, want 0", st)
	}
	lines := c.logLines()
	if len(lines) != 1 || lines[0].Log != "hello\n" || lines[0].Stream != "stdout" || lines[0].Time.IsZero() {
		t.Fatalf("log = %+v", lines)
	}
	st, err := c.c.State(ctx(t))
	if err != nil || st.Status != Stopped || st.ExitCode != 0 || st.Pid == 0 || st.StartedAt.IsZero() {
		t.Fatalf("state = %+v, %v", st, err)
	}
	ex, ok, err := ReadExitFile(c.bundle)
	if err != nil || !ok || ex.Code != 0 {
		t.Fatalf("exit file = %+v %v %v", ex, ok, err)
	}
	// Attaching after the exit gets the exit code at once.
	if r, err := attach.Attach(ctx(t), AttachSocketPath(c.bundle, ""), attach.Streams{}); err != nil || !r.Exited || r.ExitCode != 0 {
		t.Fatalf("late attach: %+v %v", r, err)
	}
	del, err := c.c.Delete(ctx(t))
	c.c = nil
	if err != nil || del.Code != 0 {
		t.Fatalf("delete = %+v, %v", del, err)
	}
	for _, f := range []string{SocketPath(c.bundle), AttachSocketPath(c.bundle, ""), filepath.Join(c.stateRoot, c.id)} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (%v)", f, err)
		}
	}
}

// TestEnvIsTheSpecs: the container's process sees its spec's environment
// only, not what the shim sets for libcontainer's init (GOMAXPROCS).
func TestEnvIsTheSpecs(t *testing.T) {
	c := newCtr(t, "sh", "-c", "echo ${GOMAXPROCS-unset}")
	c.run()
	if st := c.wait(); st.Code != 0 {
		t.Fatalf("exit = %+v", st)
	}
	if lines := c.logLines(); len(lines) != 1 || lines[0].Log != "unset\n" {
		t.Fatalf("GOMAXPROCS in the container: %+v", lines)
	}
}

func TestExitCode(t *testing.T) {
	c := newCtr(t, "sh", "-c", "exit 3")
	c.run()
	if st := c.wait(); st.Code != 3 {
		t.Fatalf("exit = %d, want 3", st.Code)
	}
}

// The shim destroys a container (its cgroups) as soon as the init exits,
// before ctrd asks with Delete, unless exec processes are known.
func TestDestroyedOnExit(t *testing.T) {
	c := newCtr(t, "true")
	c.run()
	c.wait()
	if !waitFor(5*time.Second, func() bool { return len(cgroupDirs(cgroupParent+"/"+c.id)) == 0 }) {
		t.Fatalf("cgroups still there after the exit: %v", cgroupDirs(cgroupParent+"/"+c.id))
	}
	if _, err := c.c.Delete(ctx(t)); err != nil {
		t.Fatalf("delete after the early destroy: %v", err)
	}
	c.c = nil
}

func TestStderrSeparated(t *testing.T) {
	c := newCtr(t, "sh", "-c", "echo out; echo err >&2; printf partial")
	c.mustCreate()
	var out, errb syncBuffer
	res := make(chan attach.Result, 1)
	go func() {
		r, err := attach.Attach(ctx(t), AttachSocketPath(c.bundle, ""), attach.Streams{Stdout: &out, Stderr: &errb})
		if err != nil {
			t.Error(err)
		}
		res <- r
	}()
	time.Sleep(50 * time.Millisecond) // let the client connect before output starts
	if _, err := c.c.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st := c.wait(); st.Code != 0 {
		t.Fatalf("exit %d", st.Code)
	}
	r := <-res
	if !r.Exited || r.ExitCode != 0 {
		t.Errorf("attach result %+v", r)
	}
	if out.String() != "out\npartial" || errb.String() != "err\n" {
		t.Errorf("attach stdout %q stderr %q", out.String(), errb.String())
	}
	got := map[string]string{}
	for _, l := range c.logLines() {
		got[l.Stream] += l.Log
	}
	if got["stdout"] != "out\npartial" || got["stderr"] != "err\n" {
		t.Errorf("log = %q", got)
	}
}

func TestStartErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"no-such-command"}, 127},
		{[]string{"/no/such/file"}, 127},
		{[]string{"/etc/passwd"}, 126},
		{[]string{"/etc"}, 126},
	} {
		t.Run(strings.ReplaceAll(tc.args[0], "/", "_"), func(t *testing.T) {
			c := newCtr(t, tc.args...)
			err := c.create()
			var se *StartError
			if !errors.As(err, &se) || se.ExitCode != tc.code {
				t.Fatalf("create error = %v (%T), want StartError %d", err, err, tc.code)
			}
			if _, err := os.Stat(filepath.Join(c.stateRoot, c.id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state dir left behind: %v", err)
			}
			if _, err := os.Stat(SocketPath(c.bundle)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("socket left behind: %v", err)
			}
		})
	}
}

func TestTTYAttachResize(t *testing.T) {
	c := newCtr(t, "sh")
	c.spec.Process.Terminal = true
	c.spec.Process.Env = append(c.spec.Process.Env, "TERM=xterm", "PS1=$ ")
	c.opts.Tty, c.opts.Stdin = true, true
	c.run()

	inR, inW := newPipe(t)
	var out syncBuffer
	resize := make(chan [2]uint32, 1)
	resize <- [2]uint32{100, 40}
	res := make(chan attach.Result, 1)
	go func() {
		r, err := attach.Attach(ctx(t), AttachSocketPath(c.bundle, ""), attach.Streams{Stdin: inR, Stdout: &out, Resize: resize})
		if err != nil {
			t.Error(err)
		}
		res <- r
	}()
	time.Sleep(100 * time.Millisecond)
	inW.Write([]byte("echo tty-$((6*7))\n"))
	inW.Write([]byte("stty size\n"))
	if !waitFor(5*time.Second, func() bool { return strings.Contains(out.String(), "40 100") }) {
		t.Fatalf("no resize seen; output %q", out.String())
	}
	if !strings.Contains(out.String(), "tty-42") {
		t.Errorf("echo through pty missing: %q", out.String())
	}
	// A resize through the API too.
	if err := c.c.Resize(ctx(t), 81, 21); err != nil {
		t.Fatal(err)
	}
	inW.Write([]byte("stty size; exit 5\n"))
	r := <-res
	if !r.Exited || r.ExitCode != 5 {
		t.Errorf("attach result %+v, output %q", r, out.String())
	}
	if !strings.Contains(out.String(), "21 81") {
		t.Errorf("API resize not seen: %q", out.String())
	}
	if st := c.wait(); st.Code != 5 {
		t.Fatalf("exit %d", st.Code)
	}
	for _, l := range c.logLines() {
		if l.Stream != "stdout" {
			t.Errorf("tty log line on %s", l.Stream)
		}
	}
}

func newPipe(t *testing.T) (*os.File, *os.File) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

func TestStdinCloseEndsCat(t *testing.T) {
	c := newCtr(t, "cat")
	c.opts.Stdin = true
	c.run()
	var out syncBuffer
	r, err := attach.Attach(ctx(t), AttachSocketPath(c.bundle, ""), attach.Streams{
		Stdin: strings.NewReader("line one\nline two\n"), Stdout: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Exited || r.ExitCode != 0 || out.String() != "line one\nline two\n" {
		t.Fatalf("result %+v output %q", r, out.String())
	}
	if st := c.wait(); st.Code != 0 {
		t.Fatalf("exit %d", st.Code)
	}
}

func TestNoStdinIsDevNull(t *testing.T) {
	c := newCtr(t, "sh", "-c", "cat; echo done")
	c.run()
	if st := c.wait(); st.Code != 0 {
		t.Fatalf("exit %d", st.Code)
	}
	if l := c.logLines(); len(l) != 1 || l[0].Log != "done\n" {
		t.Fatalf("log %+v", l)
	}
}

func TestKill(t *testing.T) {
	t.Run("SIGKILL", func(t *testing.T) {
		c := newCtr(t, "sleep", "100")
		c.run()
		if err := c.c.Kill(ctx(t), syscall.SIGKILL, false); err != nil {
			t.Fatal(err)
		}
		if st := c.wait(); st.Code != 137 {
			t.Fatalf("exit %d, want 137", st.Code)
		}
		if err := c.c.Kill(ctx(t), syscall.SIGKILL, false); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("kill after exit: %v, want ErrNotRunning", err)
		}
	})
	t.Run("SIGTERM", func(t *testing.T) {
		// As pid 1 of its namespace, sleep would ignore SIGTERM; share
		// the host pid namespace so that the default action applies.
		c := newCtr(t, "sleep", "100")
		ns := c.spec.Linux.Namespaces[:0]
		for _, n := range c.spec.Linux.Namespaces {
			if n.Type != specs.PIDNamespace {
				ns = append(ns, n)
			}
		}
		c.spec.Linux.Namespaces = ns
		c.run()
		if err := c.c.Kill(ctx(t), syscall.SIGTERM, false); err != nil {
			t.Fatal(err)
		}
		if st := c.wait(); st.Code != 143 {
			t.Fatalf("exit %d, want 143", st.Code)
		}
	})
	t.Run("all", func(t *testing.T) {
		c := newCtr(t, "sh", "-c", "sleep 100 & sleep 100; echo unreachable")
		c.run()
		if !waitFor(5*time.Second, func() bool { p, _ := c.c.Pids(ctx(t)); return len(p) == 3 }) {
			t.Fatal("processes did not start")
		}
		if err := c.c.Kill(ctx(t), syscall.SIGKILL, true); err != nil {
			t.Fatal(err)
		}
		if st := c.wait(); st.Code != 137 {
			t.Fatalf("exit %d, want 137", st.Code)
		}
	})
	t.Run("created", func(t *testing.T) {
		c := newCtr(t, "true")
		c.mustCreate()
		if err := c.c.Kill(ctx(t), syscall.SIGKILL, false); err != nil {
			t.Fatal(err)
		}
		if st := c.wait(); st.Code != 137 {
			t.Fatalf("exit %d, want 137", st.Code)
		}
	})
}

func TestPauseResumePids(t *testing.T) {
	c := newCtr(t, "sh", "-c", "sleep 100 & sleep 100; true")
	c.run()
	var pids []int
	if !waitFor(5*time.Second, func() bool { pids, _ = c.c.Pids(ctx(t)); return len(pids) == 3 }) {
		t.Fatalf("pids = %v, want 3", pids)
	}
	st, _ := c.c.State(ctx(t))
	found := false
	for _, p := range pids {
		found = found || p == st.Pid
	}
	if !found {
		t.Errorf("init pid %d not in %v", st.Pid, pids)
	}
	if err := c.c.Pause(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.c.State(ctx(t)); st.Status != Paused {
		t.Fatalf("status %s, want paused", st.Status)
	}
	for _, p := range pids {
		if s := procState(p); s != "D" && s != "S" {
			// frozen tasks show as D (or S on newer kernels)
			t.Logf("pid %d state %s", p, s)
		}
	}
	proc := *c.spec.Process
	proc.Args = []string{"true"}
	if err := c.c.Exec(ctx(t), ExecOptions{ID: "p", Process: &proc}); !errors.Is(err, ErrState) {
		t.Errorf("exec in paused container: %v, want ErrState", err)
	}
	if err := c.c.Resume(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.c.State(ctx(t)); st.Status != Running {
		t.Fatalf("status %s, want running", st.Status)
	}
	if err := c.c.Resume(ctx(t)); !errors.Is(err, ErrState) {
		t.Errorf("resume of running: %v, want ErrState", err)
	}
	// Delete of a paused container kills it.
	if err := c.c.Pause(ctx(t)); err != nil {
		t.Fatal(err)
	}
	st2, err := c.c.Delete(ctx(t))
	c.c = nil
	if err != nil || st2.Code != 137 {
		t.Fatalf("delete paused: %+v %v", st2, err)
	}
}

func procState(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return ""
}

func TestExec(t *testing.T) {
	c := newCtr(t, "sleep", "100")
	c.run()
	proc := *c.spec.Process
	proc.Args = []string{"sh", "-c", "echo exec-out; echo exec-err >&2; exit 7"}
	if err := c.c.Exec(ctx(t), ExecOptions{ID: "e1", Process: &proc}); err != nil {
		t.Fatal(err)
	}
	if err := c.c.Exec(ctx(t), ExecOptions{ID: "e1", Process: &proc}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("duplicate exec: %v", err)
	}
	var out, errb syncBuffer
	res := make(chan attach.Result, 1)
	conn, err := attach.Dial(ctx(t), AttachSocketPath(c.bundle, "e1"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		r, err := attach.Session(ctx(t), conn, attach.Streams{Stdout: &out, Stderr: &errb})
		if err != nil {
			t.Error(err)
		}
		res <- r
	}()
	time.Sleep(20 * time.Millisecond)
	pid, err := c.c.StartExec(ctx(t), "e1")
	if err != nil || pid <= 0 {
		t.Fatalf("start exec: %d %v", pid, err)
	}
	st, err := c.c.WaitExec(ctx(t), "e1")
	if err != nil || st.Code != 7 {
		t.Fatalf("wait exec: %+v %v", st, err)
	}
	r := <-res
	if !r.Exited || r.ExitCode != 7 || out.String() != "exec-out\n" || errb.String() != "exec-err\n" {
		t.Errorf("attach %+v out %q err %q", r, out.String(), errb.String())
	}
	if _, err := c.c.DeleteExec(ctx(t), "e1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.c.ExecState(ctx(t), "e1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("state of deleted exec: %v", err)
	}
	// Exec output is not the container's log.
	if l := c.logLines(); len(l) != 0 {
		t.Errorf("log has exec output: %+v", l)
	}

	// Start failures map to 127 / 126.
	for id, args := range map[string][]string{"nf": {"no-such-cmd"}, "nx": {"/etc/passwd"}} {
		proc.Args = args
		if err := c.c.Exec(ctx(t), ExecOptions{ID: id, Process: &proc}); err != nil {
			t.Fatal(err)
		}
		_, err := c.c.StartExec(ctx(t), id)
		var se *StartError
		want := map[string]int{"nf": 127, "nx": 126}[id]
		if !errors.As(err, &se) || se.ExitCode != want {
			t.Errorf("exec %v: %v, want StartError %d", args, err, want)
		}
		if st, err := c.c.WaitExec(ctx(t), id); err != nil || st.Code != want {
			t.Errorf("wait failed exec %v: %+v %v", args, st, err)
		}
	}

	// An exec ID long enough that its socket path overflows sun_path.
	long := strings.Repeat("x", 120)
	proc.Args = []string{"echo", "long"}
	if err := c.c.Exec(ctx(t), ExecOptions{ID: long, Process: &proc}); err != nil {
		t.Fatal(err)
	}
	lconn, err := attach.Dial(ctx(t), AttachSocketPath(c.bundle, long))
	if err != nil {
		t.Fatal(err)
	}
	var lout syncBuffer
	lres := make(chan attach.Result, 1)
	go func() {
		r, _ := attach.Session(ctx(t), lconn, attach.Streams{Stdout: &lout})
		lres <- r
	}()
	time.Sleep(20 * time.Millisecond)
	if _, err := c.c.StartExec(ctx(t), long); err != nil {
		t.Fatal(err)
	}
	if r := <-lres; !r.Exited || lout.String() != "long\n" {
		t.Errorf("long exec id: %+v %q", r, lout.String())
	}

	// An exec with a tty, killed with SIGTERM (it is not pid 1).
	proc.Args = []string{"sleep", "100"}
	proc.Terminal = true
	if err := c.c.Exec(ctx(t), ExecOptions{ID: "tty", Process: &proc, Tty: true}); err != nil {
		t.Fatal(err)
	}
	ttyPid, err := c.c.StartExec(ctx(t), "tty")
	if err != nil {
		t.Fatal(err)
	}
	// Signal the command itself, not the runtime's init still setting it
	// up (which may swallow the signal before it execs the command).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ttyPid)); strings.TrimSpace(string(b)) == "sleep" {
			break
		}
	}
	if err := c.c.ResizeExec(ctx(t), "tty", 10, 10); err != nil {
		t.Error(err)
	}
	if err := c.c.KillExec(ctx(t), "tty", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st, err := c.c.WaitExec(ctx(t), "tty"); err != nil || st.Code != 143 {
		t.Errorf("killed exec: %+v %v", st, err)
	}
}

func TestReconnect(t *testing.T) {
	c := newCtr(t, "sh", "-c", "read x; exit 4")
	c.opts.Stdin = true
	c.run()
	st0, err := c.c.State(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	// "ctrd restarts": drop the connection, come back by bundle.
	c.c.Close()
	c.c = nil
	cl, err := Connect(ctx(t), c.bundle)
	if err != nil {
		t.Fatal(err)
	}
	c.c = cl
	st, err := cl.State(ctx(t))
	if err != nil || st.Status != Running || st.Pid != st0.Pid {
		t.Fatalf("state after reconnect %+v %v", st, err)
	}
	waited := make(chan ExitStatus, 1)
	go func() {
		st, err := cl.Wait(ctx(t))
		if err != nil {
			t.Error(err)
		}
		waited <- st
	}()
	if _, err := attach.Attach(ctx(t), AttachSocketPath(c.bundle, ""), attach.Streams{Stdin: strings.NewReader("go\n")}); err != nil {
		t.Fatal(err)
	}
	if st := <-waited; st.Code != 4 {
		t.Fatalf("exit %d, want 4", st.Code)
	}
	// Delete through a reconnected client; the shim exits right after.
	if _, err := cl.Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
	c.c = nil
	if !waitFor(5*time.Second, func() bool { return dead(st0.ShimPid) }) {
		t.Errorf("shim %d still running after Delete", st0.ShimPid)
	}
}

func TestShimKilledCleanup(t *testing.T) {
	c := newCtr(t, "sh", "-c", "sleep 1000 & sleep 1000; true")
	c.run()
	st, err := c.c.State(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	if !waitFor(5*time.Second, func() bool { pids, _ = c.c.Pids(ctx(t)); return len(pids) == 3 }) {
		t.Fatalf("pids = %v, want 3", pids)
	}
	if err := syscall.Kill(st.ShimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := c.c.Wait(ctx(t)); !errors.Is(err, ErrShimGone) {
		t.Fatalf("wait with dead shim: %v, want ErrShimGone", err)
	}
	c.c.Close()
	c.c = nil
	waitFor(2*time.Second, func() bool { return processGone(st.ShimPid) })
	// The container survived its shim.
	if processGone(st.Pid) {
		t.Fatal("container died with its shim")
	}
	if _, err := Connect(ctx(t), c.bundle); !errors.Is(err, ErrShimGone) {
		t.Fatalf("connect: %v, want ErrShimGone", err)
	}
	if err := Cleanup(c.stateRoot, c.bundle, c.id); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool {
		for _, p := range pids {
			if !processGone(p) {
				return false
			}
		}
		return true
	}) {
		t.Errorf("processes left: %v", pids)
	}
	if d := cgroupDirs(cgroupParent + "/" + c.id); len(d) > 0 {
		t.Errorf("cgroups left: %v", d)
	}
	if _, err := os.Stat(filepath.Join(c.stateRoot, c.id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state left: %v", err)
	}
	if _, err := os.Stat(SocketPath(c.bundle)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left: %v", err)
	}
}

func TestCancelStart(t *testing.T) {
	c := newCtr(t, "true")
	c.writeSpec()
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(cctx, c.opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("start with cancelled ctx: %v", err)
	}
}

func TestLogRotation(t *testing.T) {
	c := newCtr(t, "sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done")
	c.opts.LogMaxSize = 2000
	c.opts.LogMaxFiles = 3
	c.run()
	if st := c.wait(); st.Code != 0 {
		t.Fatalf("exit %d", st.Code)
	}
	for _, f := range []string{c.logPath, c.logPath + ".1", c.logPath + ".2"} {
		fi, err := os.Stat(f)
		if err != nil || fi.Size() > 2000 {
			t.Errorf("%s: %v (size %d)", f, err, fi.Size())
		}
	}
	if _, err := os.Stat(c.logPath + ".3"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("more than 3 files kept: %v", err)
	}
	lines := c.logLines()
	if last := lines[len(lines)-1]; last.Log != "line-299\n" {
		t.Errorf("last line %q", last.Log)
	}
}

func TestLongLineAndManyAttach(t *testing.T) {
	c := newCtr(t, "sh", "-c", "read x; echo got-$x; head -c 40000 /dev/zero | tr '\\0' a")
	c.opts.Stdin = true
	c.run()
	var outs [3]syncBuffer
	res := make(chan attach.Result, 3)
	stdinR, stdinW := newPipe(t)
	for i := range outs {
		s := attach.Streams{Stdout: &outs[i]}
		if i == 0 {
			s.Stdin = stdinR
		}
		go func() {
			r, err := attach.Attach(ctx(t), AttachSocketPath(c.bundle, ""), s)
			if err != nil {
				t.Error(err)
			}
			res <- r
		}()
	}
	time.Sleep(100 * time.Millisecond)
	stdinW.Write([]byte("hi\n"))
	want := "got-hi\n" + strings.Repeat("a", 40000)
	for range outs {
		if r := <-res; !r.Exited || r.ExitCode != 0 {
			t.Errorf("attach result %+v", r)
		}
	}
	for i := range outs {
		if outs[i].String() != want {
			t.Errorf("client %d got %d bytes", i, len(outs[i].String()))
		}
	}
	var sizes []int
	for _, l := range c.logLines() {
		sizes = append(sizes, len(l.Log))
	}
	if len(sizes) != 4 || sizes[0] != 7 || sizes[1] != maxPartial || sizes[2] != maxPartial || sizes[3] != 40000-2*maxPartial {
		t.Errorf("log entry sizes %v", sizes)
	}
}

// TestOrphansReaped: in the host pid namespace, a container's orphans are
// reparented to the shim (a child subreaper), which must reap them.
func TestOrphansReaped(t *testing.T) {
	c := newCtr(t, "sh", "-c", "sleep 1 >/dev/null 2>&1 & sleep 1 >/dev/null 2>&1 & exit 0")
	ns := c.spec.Linux.Namespaces[:0]
	for _, n := range c.spec.Linux.Namespaces {
		if n.Type != specs.PIDNamespace {
			ns = append(ns, n)
		}
	}
	c.spec.Linux.Namespaces = ns
	c.run()
	if st := c.wait(); st.Code != 0 {
		t.Fatalf("exit %d", st.Code)
	}
	st, err := c.c.State(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	children := func() (all, zombies []string) {
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(st.ShimPid) + "/task/*/children")
		for _, f := range tasks {
			b, _ := os.ReadFile(f)
			for _, p := range strings.Fields(string(b)) {
				all = append(all, p)
				if pid, _ := strconv.Atoi(p); isZombie(pid) {
					zombies = append(zombies, p)
				}
			}
		}
		return
	}
	if all, _ := children(); len(all) != 2 {
		t.Fatalf("shim children %v, want the 2 orphans", all)
	}
	if !waitFor(5*time.Second, func() bool { all, _ := children(); return len(all) == 0 }) {
		all, z := children()
		t.Fatalf("shim children left: %v (zombies %v)", all, z)
	}
}

func TestBadBundle(t *testing.T) {
	c := newCtr(t, "true")
	// No config.json written.
	_, err := Start(ctx(t), c.opts)
	var se *StartError
	if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("start without config.json: %v", err)
	}
}

// TestStuckAttachClient: a client that never reads holds the output back
// for a while, then is dropped; the container and its log go on.
func TestStuckAttachClient(t *testing.T) {
	if testing.Short() {
		t.Skip("takes slowClientTimeout")
	}
	c := newCtr(t, "sh", "-c", "head -c 8000000 /dev/zero | tr '\\0' 'a'; echo; echo end")
	c.mustCreate()
	conn, err := attach.Dial(ctx(t), AttachSocketPath(c.bundle, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadBuffer(4096)
	time.Sleep(50 * time.Millisecond)
	t0 := time.Now()
	if _, err := c.c.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st := c.wait(); st.Code != 0 {
		t.Fatalf("exit %d", st.Code)
	}
	if d := time.Since(t0); d < slowClientTimeout {
		t.Errorf("finished in %v: output was not held back for the client", d)
	}
	lines := c.logLines()
	if last := lines[len(lines)-1]; last.Log != "end\n" {
		t.Errorf("last log line %q", last.Log)
	}
	// The dropped client sees its connection end (no exit frame).
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64*1024)
	for {
		typ, _, err := attach.ReadFrame(conn, buf)
		if err != nil {
			break
		}
		if typ == attach.Exit {
			t.Error("dropped client got the exit frame")
		}
	}
}
