package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/ctrd/ctrd/runtime/seccompcache"
)

// busyboxDaemon starts a daemon with busybox:latest imported.
func busyboxDaemon(t *testing.T) *Daemon {
	t.Helper()
	d := StartDaemon(t)
	d.ImportBusybox(t, "busybox:latest")
	return d
}

func wantCode(t *testing.T, r Result, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("want exit code %d, got %s", code, r)
	}
}

func oneLine(t *testing.T, r Result) {
	t.Helper()
	msg := strings.TrimSpace(r.Stderr)
	if msg == "" {
		t.Fatalf("no error message: %s", r)
	}
}

func TestRunExitCodesAndStreams(t *testing.T) {
	d := busyboxDaemon(t)

	r := d.Ctr("run", "--rm", "busybox", "echo", "hello")
	wantCode(t, r, 0)
	if r.Stdout != "hello\n" {
		t.Fatalf("stdout = %q", r.Stdout)
	}
	r = d.Ctr("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	wantCode(t, r, 3)
	if r.Stdout != "out\n" || !strings.Contains(r.Stderr, "err\n") || strings.Contains(r.Stdout, "err") {
		t.Fatalf("streams mixed: %s", r)
	}
	r = d.Ctr("run", "--rm", "busybox", "nosuchcommand")
	wantCode(t, r, 127)
	oneLine(t, r)
	r = d.Ctr("run", "--rm", "busybox", "/etc/passwd")
	wantCode(t, r, 126)
	r = d.Ctr("run", "--rm", "nosuch:tag", "true")
	wantCode(t, r, 125)
	if !strings.Contains(r.Stderr, "Unable to find image 'nosuch:tag' locally") {
		t.Fatalf("unknown image: %s", r)
	}
	wantCode(t, d.Ctr("run", "--rm", "-e", "=x", "busybox", "true"), 125)
	wantCode(t, d.Ctr("run", "--rm", "--bogus-flag", "busybox", "true"), 125)
	r = d.Ctr("run", "--rm", "-u", "nosuchuser", "busybox", "true")
	if r.Code == 0 || !strings.Contains(r.Stderr, "nosuchuser") {
		t.Fatalf("bad -u: %s", r)
	}
	// --rm removed everything, also after failures.
	if out := d.MustCtr(t, "ps", "-aq"); out != "" {
		t.Fatalf("containers left behind: %q", out)
	}

	// Options reach the process.
	envFile := filepath.Join(d.Root, "env")
	os.WriteFile(envFile, []byte("# comment\nFROMFILE=yes\n"), 0o644)
	out := d.MustCtr(t, "run", "--rm", "-e", "MSG=hi", "--env-file", envFile, "-w", "/tmp", "-u", "1000:1000",
		"--hostname", "boxy", "busybox", "sh", "-c", `echo $MSG $FROMFILE $(pwd) $(id -u):$(id -g) $(hostname)`)
	if out != "hi yes /tmp 1000:1000 boxy" {
		t.Fatalf("run options: %q", out)
	}
	out = d.MustCtr(t, "run", "--rm", "--entrypoint", "echo", "busybox", "via", "entrypoint")
	if out != "via entrypoint" {
		t.Fatalf("--entrypoint: %q", out)
	}
	out = d.MustCtr(t, "run", "--rm", "-u", "app", "busybox", "id", "-un")
	if out != "app" {
		t.Fatalf("-u name: %q", out)
	}
	// Stdin piped with -i, closed at EOF.
	r = d.CtrStdin(strings.NewReader("piped input\n"), "run", "-i", "--rm", "busybox", "cat")
	wantCode(t, r, 0)
	if r.Stdout != "piped input\n" {
		t.Fatalf("stdin: %s", r)
	}
	// --init runs the command under an init that reaps.
	out = d.MustCtr(t, "run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '")
	if !strings.HasPrefix(out, "/dev/init") {
		t.Fatalf("--init: pid 1 is %q", out)
	}
}

// A --rm container removed by force while it runs: its exit (which would
// remove it too) and the forced removal must not both remove it.
func TestForceRemoveAutoRemoveContainer(t *testing.T) {
	d := busyboxDaemon(t)
	id := d.MustCtr(t, "run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "600")
	keep := d.MustCtr(t, "run", "-d", "--name", "kept", "busybox", "sleep", "600")
	// The writable layer of a --rm container is volatile (never synced, as
	// it is thrown away); any other container's is not.
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mounts), "\n") {
		switch {
		case strings.Contains(l, id) && strings.Contains(l, " overlay "):
			if !strings.Contains(l, "volatile") {
				t.Errorf("--rm container's layer is not volatile: %s", l)
			}
		case strings.Contains(l, keep) && strings.Contains(l, " overlay "):
			if strings.Contains(l, "volatile") {
				t.Errorf("a kept container's layer is volatile: %s", l)
			}
		}
	}
	// restart keeps a --rm container (as in Docker); its volatile layer
	// mounts again, with what was written to it.
	d.MustCtr(t, "exec", "gone", "sh", "-c", "echo kept > /mark")
	d.MustCtr(t, "restart", "-t", "1", "gone")
	if out := d.MustCtr(t, "exec", "gone", "cat", "/mark"); out != "kept" {
		t.Fatalf("after restart, /mark = %q", out)
	}
	d.MustCtr(t, "rm", "-f", "gone")
	if !d.Running() {
		t.Fatalf("ctrd died removing a running --rm container:\n%s", d.LogTail(30))
	}
	if r := d.Ctr("inspect", id); r.Code == 0 {
		t.Fatalf("still there after rm -f: %s", r)
	}
	d.MustCtr(t, "rm", "-f", "kept")
	// A stop (not a restart) removes it.
	d.MustCtr(t, "run", "-d", "--rm", "--name", "stopped", "busybox", "sleep", "600")
	d.MustCtr(t, "stop", "-t", "1", "stopped")
	if out := d.MustCtr(t, "ps", "-aq"); out != "" {
		t.Fatalf("containers left behind: %q", out)
	}
	// --rm and a restart policy contradict each other, as in Docker.
	r := d.Ctr("run", "-d", "--rm", "--restart", "always", "busybox", "true")
	wantCode(t, r, 125)
	if !strings.Contains(r.Stderr, "both --restart and --rm") {
		t.Fatalf("--rm with --restart: %s", r)
	}
}

// The writable layer of a --rm container is not synced when made: a crash
// of the machine may lose its directory. Such a container, created and
// never started, is removed at the next start instead of failing to start;
// the layer of any other container is synced and kept.
func TestLostVolatileLayerRemovedAtStart(t *testing.T) {
	d := busyboxDaemon(t)
	lost := d.MustCtr(t, "create", "--rm", "--name", "lost", "busybox", "true")
	kept := d.MustCtr(t, "create", "--name", "kept", "busybox", "true")
	upper := d.MustCtr(t, "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "lost")
	if !strings.HasPrefix(upper, filepath.Join(d.DataRoot, "snapshots")+"/") {
		t.Fatalf("UpperDir %q is not in the snapshotter's directory", upper)
	}
	d.Kill9(t)
	// What a crash of the machine can do to an unsynced layer.
	if err := os.RemoveAll(filepath.Dir(upper)); err != nil {
		t.Fatal(err)
	}
	d.start(t, true)
	if r := d.Ctr("inspect", lost); r.Code == 0 {
		t.Fatalf("the --rm container whose layer was lost is still there: %s", r)
	}
	if out := d.MustCtr(t, "ps", "-aq", "--no-trunc"); out != kept {
		t.Fatalf("ps -a after the restart = %q, want only %s", out, kept)
	}
	if out := d.MustCtr(t, "start", "-a", "kept"); out != "" {
		t.Fatalf("start -a kept = %q", out)
	}
	d.MustCtr(t, "rm", "kept")
	if names := d.snapshotDirs(t); len(names) != 1 {
		t.Fatalf("snapshot directories left: %v, want the image's layer only", names)
	}
}

func TestContainerLifecycle(t *testing.T) {
	d := busyboxDaemon(t)
	id := d.MustCtr(t, "create", "--name", "box", "busybox", "sh", "-c", "trap 'echo got-hup' HUP; while true; do sleep 0.1; done")
	if len(id) != 64 {
		t.Fatalf("create printed %q, want a 64-hex ID", id)
	}
	if st := d.MustCtr(t, "inspect", "-f", "{{.State.Status}}", "box"); st != "created" {
		t.Fatalf("status %q", st)
	}
	if ps := d.MustCtr(t, "ps", "-a", "--format", "{{.Names}} {{.Status}}"); ps != "box Created" {
		t.Fatalf("ps: %q", ps)
	}
	r := d.Ctr("create", "--name", "box", "busybox")
	if r.Code == 0 || !strings.Contains(r.Stderr, id) {
		t.Fatalf("name conflict must name the holder: %s", r)
	}
	d.MustCtr(t, "start", "box")
	if st := d.MustCtr(t, "inspect", "-f", "{{.State.Status}} {{.State.Running}}", id[:10]); st != "running true" {
		t.Fatalf("after start: %q", st)
	}
	if ps := d.MustCtr(t, "ps", "--format", "{{.Status}}"); !strings.HasPrefix(ps, "Up ") {
		t.Fatalf("ps status %q", ps)
	}
	if r := d.Ctr("start", "box"); r.Code == 0 {
		t.Fatalf("start of a running container succeeded: %s", r)
	}
	if r := d.Ctr("rm", "box"); r.Code == 0 || !strings.Contains(r.Stderr, "Stop the container") {
		t.Fatalf("rm of a running container: %s", r)
	}
	if r := d.Ctr("kill", "-s", "NOSUCHSIG", "box"); r.Code == 0 || !strings.Contains(r.Stderr, "NOSUCHSIG") {
		t.Fatalf("bad signal: %s", r)
	}
	d.MustCtr(t, "kill", "-s", "HUP", "box")
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(d.Ctr("logs", "box").Stdout, "got-hup") })
	if st := d.MustCtr(t, "inspect", "-f", "{{.State.Running}}", "box"); st != "true" {
		t.Fatalf("HUP stopped it: %q", st)
	}
	d.MustCtr(t, "rename", "box", "box2")
	if r := d.Ctr("inspect", "box"); r.Code == 0 {
		t.Fatal("old name still resolves")
	}
	top := d.MustCtr(t, "top", "box2")
	if !strings.Contains(top, "PID") || !strings.Contains(top, "sleep") {
		t.Fatalf("top: %q", top)
	}
	start := time.Now()
	d.MustCtr(t, "stop", "-t", "1", "box2")
	if time.Since(start) > 8*time.Second {
		t.Fatalf("stop -t 1 took %v", time.Since(start))
	}
	if st := d.MustCtr(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "box2"); st != "exited 137" {
		t.Fatalf("after stop: %q", st)
	}
	if w := d.MustCtr(t, "wait", "box2"); w != "137" {
		t.Fatalf("wait: %q", w)
	}
	if r := d.Ctr("exec", "box2", "true"); r.Code == 0 || !strings.Contains(r.Stderr, "is not running") {
		t.Fatalf("exec in stopped container: %s", r)
	}
	d.MustCtr(t, "restart", "-t", "1", "box2")
	if st := d.MustCtr(t, "inspect", "-f", "{{.State.Running}}", "box2"); st != "true" {
		t.Fatalf("after restart: %q", st)
	}
	d.MustCtr(t, "rm", "-f", "box2")
	for _, args := range [][]string{{"start", "box2"}, {"stop", "nosuch"}, {"logs", "nosuch"}, {"inspect", "--type", "container", "nosuch"}} {
		r := d.Ctr(args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "No such") {
			t.Fatalf("%v: %s", args, r)
		}
	}
	// A stop signal from the image config or --stop-signal is used by stop.
	d.MustCtr(t, "run", "-d", "--name", "sig", "--stop-signal", "USR1", "busybox", "sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done")
	d.MustCtr(t, "stop", "sig")
	if code := d.MustCtr(t, "inspect", "-f", "{{.State.ExitCode}}", "sig"); code != "42" {
		t.Fatalf("stop signal not used: exit %s", code)
	}
	checkNoRuntimeLeftovers(t, d)
}

func TestExecAndWritableLayer(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "run", "-d", "--name", "web", "busybox", "sh", "-c", "echo changed > /etc/motd; mkdir /new; rm /etc/group; sleep 1000")
	waitFor(t, 5*time.Second, func() bool { return d.Ctr("exec", "web", "test", "-d", "/new").Code == 0 })
	r := d.Ctr("exec", "-e", "X=1", "-w", "/tmp", "web", "sh", "-c", "echo $X $(pwd); exit 5")
	wantCode(t, r, 5)
	if r.Stdout != "1 /tmp\n" {
		t.Fatalf("exec output %q", r.Stdout)
	}
	wantCode(t, d.Ctr("exec", "web", "nosuchcmd"), 127)
	if out := d.MustCtr(t, "exec", "-u", "app", "web", "id", "-u"); out != "1000" {
		t.Fatalf("exec -u: %q", out)
	}
	d.MustCtr(t, "exec", "-d", "web", "sh", "-c", "touch /tmp/from-detached-exec")
	waitFor(t, 5*time.Second, func() bool { return d.Ctr("exec", "web", "test", "-f", "/tmp/from-detached-exec").Code == 0 })
	diff := d.MustCtr(t, "diff", "web")
	for _, want := range []string{"C /etc", "A /etc/motd", "D /etc/group", "A /new"} {
		if !strings.Contains(diff+"\n", want+"\n") {
			t.Fatalf("diff misses %q:\n%s", want, diff)
		}
	}
	// Another container from the same image sees none of it.
	out := d.MustCtr(t, "run", "--rm", "busybox", "sh", "-c", "test -e /new && echo leaked; test -e /etc/group && echo intact")
	if out != "intact" {
		t.Fatalf("writable layer leaked: %q", out)
	}
	up := d.MustCtr(t, "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "web")
	if _, err := os.Stat(filepath.Join(up, "new")); err != nil {
		t.Fatalf("change not in the container's upper dir %s: %v", up, err)
	}
	d.MustCtr(t, "rm", "-f", "web")
	if _, err := os.Stat(up); !os.IsNotExist(err) {
		t.Fatalf("writable layer %s not removed: %v", up, err)
	}
	checkNoRuntimeLeftovers(t, d)
}

func TestInteractiveTTY(t *testing.T) {
	d := busyboxDaemon(t)
	cmd := exec.Command(ctrBin, "run", "-it", "--rm", "busybox", "sh")
	cmd.Env = append(cleanEnv(), "CTR_HOST="+d.Host)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out safeBuffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	send := func(s string) { ptmx.Write([]byte(s)) }
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "#") })
	send("tty; stty size\n")
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(out.String(), "30 100") })
	if !strings.Contains(out.String(), "/dev/pts/") {
		t.Fatalf("no pty inside: %q", out.String())
	}
	pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120})
	time.Sleep(200 * time.Millisecond)
	send("stty size\n")
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(out.String(), "40 120") })
	send("exit 9\n")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 9 {
			t.Fatalf("exit: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("ctr run -it did not end:\n%s", out.String())
	}

	// create -it + start -ai; Ctrl-D ends the shell.
	d.MustCtr(t, "create", "-it", "--name", "box", "busybox", "/bin/sh")
	cmd = exec.Command(ctrBin, "start", "-ai", "box")
	cmd.Env = append(cleanEnv(), "CTR_HOST="+d.Host)
	ptmx2, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx2.Close()
	var out2 safeBuffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx2.Read(buf)
			out2.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(out2.String(), "#") })
	ptmx2.Write([]byte("echo marker-$((6*7))\n"))
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(out2.String(), "marker-42") })
	ptmx2.Write([]byte{4}) // Ctrl-D
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("Ctrl-D did not end start -ai")
	}
	if st := d.MustCtr(t, "inspect", "-f", "{{.State.Status}}", "box"); st != "exited" {
		t.Fatalf("after Ctrl-D: %s", st)
	}
}

func TestLogs(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "run", "-d", "--name", "counter", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox",
		"sh", "-c", "i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo line-$i; echo err-$i >&2; sleep 0.02; done")
	d.MustCtr(t, "wait", "counter")
	r := d.Ctr("logs", "--tail", "2", "counter")
	wantCode(t, r, 0)
	if r.Stdout != "line-40\n" || r.Stderr != "err-40\n" {
		t.Fatalf("logs --tail 2: %s", r)
	}
	logPath := d.MustCtr(t, "inspect", "-f", "{{.LogPath}}", "counter")
	b, err := os.ReadFile(logPath)
	if err != nil || !bytes.Contains(b, []byte(`"stream":"stdout"`)) || !bytes.Contains(b, []byte(`{"log":"line-40\n"`)) {
		t.Fatalf("json-file log: %v %q", err, b)
	}
	if _, err := os.Stat(logPath + ".1"); err != nil {
		t.Fatalf("log not rotated at max-size: %v", err)
	}
	r = d.Ctr("logs", "-t", "--tail", "2", "counter")
	if !strings.Contains(r.Stdout, "Z line-40") {
		t.Fatalf("logs -t: %s", r)
	}
	r = d.Ctr("logs", "--since", "1h", "counter")
	if !strings.Contains(r.Stdout, "line-40") {
		t.Fatalf("--since 1h: %s", r)
	}
	// logs -f follows a running container and ends when it exits.
	d.MustCtr(t, "run", "-d", "--name", "slow", "busybox", "sh", "-c", "for i in 1 2 3; do echo tick-$i; sleep 0.3; done")
	r = d.Ctr("logs", "-f", "slow")
	wantCode(t, r, 0)
	if r.Stdout != "tick-1\ntick-2\ntick-3\n" {
		t.Fatalf("logs -f: %s", r)
	}
}

// TestDaemonCrashKeepsContainers: SIGKILL of ctrd leaves containers running;
// a new ctrd re-attaches, and logs, stop and wait work.
func TestDaemonCrashKeepsContainers(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "run", "-d", "--name", "seq", "busybox", "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done")
	d.MustCtr(t, "run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 1; exit 7")
	pid := d.MustCtr(t, "inspect", "-f", "{{.State.Pid}}", "seq")
	d.Kill9(t)
	time.Sleep(1500 * time.Millisecond) // "short" exits while ctrd is away
	if err := syscall.Kill(atoi(t, pid), 0); err != nil {
		t.Fatalf("container process died with ctrd: %v", err)
	}
	d.Restart(t)
	if st := d.MustCtr(t, "inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "seq"); st != "running "+pid {
		t.Fatalf("after restart: %q (pid was %s)", st, pid)
	}
	if st := d.MustCtr(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "short"); st != "exited 7" {
		t.Fatalf("exit while away: %q", st)
	}
	d.MustCtr(t, "stop", "-t", "1", "seq")
	logs := strings.Fields(d.MustCtr(t, "logs", "seq"))
	for i, l := range logs {
		if l != strconv.Itoa(i+1) {
			t.Fatalf("log line %d is %q: lines lost across the daemon crash", i+1, l)
		}
	}
	if len(logs) < 20 {
		t.Fatalf("only %d log lines", len(logs))
	}
	if w := d.MustCtr(t, "wait", "seq"); w != "137" && w != "143" {
		t.Fatalf("wait after stop: %q", w)
	}
	checkNoRuntimeLeftovers(t, d)
}

// TestSeccompFilterCompiledAhead checks that ctrd hands each container the
// filter it compiled for the container's profile (the shim keeps only a
// file made for the container's own configuration), one per profile, and
// none to an unconfined container; runtime/seccompcache and runtime/shim
// test that the init loads what it is handed.
func TestSeccompFilterCompiledAhead(t *testing.T) {
	d := busyboxDaemon(t)
	filter := func(args ...string) (prog []byte, seccompMode string) {
		t.Helper()
		id := d.MustCtr(t, append(append([]string{"run", "-d"}, args...), "busybox", "sleep", "60")...)
		defer d.MustCtr(t, "rm", "-f", id)
		status := d.MustCtr(t, "exec", id, "grep", "^Seccomp:", "/proc/1/status")
		b, err := os.ReadFile(filepath.Join(d.ExecRoot, "containers", id, seccompcache.FileName))
		if os.IsNotExist(err) {
			return nil, strings.Fields(status)[1]
		}
		if err != nil {
			t.Fatal(err)
		}
		_, prog, err = seccompcache.Decode(b)
		if err != nil {
			t.Fatalf("filter file of %s: %v", args, err)
		}
		return prog, strings.Fields(status)[1]
	}
	def, mode := filter()
	if def == nil || mode != "2" {
		t.Fatalf("default container: compiled filter %v, Seccomp: %s", def != nil, mode)
	}
	if again, _ := filter(); !bytes.Equal(again, def) {
		t.Error("two containers with the default profile were handed different filters")
	}
	if admin, mode := filter("--cap-add", "SYS_ADMIN"); admin == nil || mode != "2" || bytes.Equal(admin, def) {
		t.Errorf("--cap-add SYS_ADMIN: compiled filter %v (same as the default's: %v), Seccomp: %s", admin != nil, bytes.Equal(admin, def), mode)
	}
	if none, mode := filter("--security-opt", "seccomp=unconfined"); none != nil || mode != "0" {
		t.Errorf("seccomp=unconfined: compiled filter %v, Seccomp: %s", none != nil, mode)
	}
}

func TestIsolationDefaults(t *testing.T) {
	d := busyboxDaemon(t)
	status := func(args ...string) map[string]string {
		out := d.MustCtr(t, append(append([]string{"run", "--rm"}, args...), "busybox", "cat", "/proc/self/status")...)
		m := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			k, v, _ := strings.Cut(l, ":")
			m[k] = strings.TrimSpace(v)
		}
		return m
	}
	st := status()
	if st["CapEff"] != "00000000a80425fb" {
		t.Errorf("default capabilities CapEff = %s, want Docker's 00000000a80425fb", st["CapEff"])
	}
	if st["Seccomp"] != "2" {
		t.Errorf("seccomp not in filter mode: %s", st["Seccomp"])
	}
	if st["NoNewPrivs"] != "0" {
		t.Errorf("NoNewPrivs = %s by default", st["NoNewPrivs"])
	}
	if st := status("--security-opt", "no-new-privileges"); st["NoNewPrivs"] != "1" {
		t.Errorf("no-new-privileges: %s", st["NoNewPrivs"])
	}
	if st := status("--cap-drop", "CHOWN"); st["CapEff"] != "00000000a80425fa" {
		t.Errorf("--cap-drop CHOWN: %s", st["CapEff"])
	}
	if st := status("--cap-add", "NET_ADMIN"); st["CapEff"] != "00000000a80435fb" {
		t.Errorf("--cap-add NET_ADMIN: %s", st["CapEff"])
	}
	if st := status("--privileged"); st["Seccomp"] != "0" || st["CapEff"] == "00000000a80425fb" {
		t.Errorf("--privileged: seccomp %s caps %s", st["Seccomp"], st["CapEff"])
	}
	out := d.MustCtr(t, "run", "--rm", "busybox", "sh", "-c",
		"echo pid1=$(cat /proc/1/comm); hostname; wc -c < /proc/timer_list; touch /proc/sys/kernel/x 2>/dev/null || echo sys-ro; ls /dev | tr '\\n' ' '")
	if !strings.Contains(out, "pid1=sh") {
		t.Errorf("not in its own pid namespace: %q", out)
	}
	if !strings.Contains(out, "\n0\n") {
		t.Errorf("/proc/timer_list not masked: %q", out)
	}
	if !strings.Contains(out, "sys-ro") {
		t.Errorf("/proc/sys writable: %q", out)
	}
	if strings.Contains(out, "sda") || strings.Contains(out, "vda") || !strings.Contains(out, "null") {
		t.Errorf("/dev not minimal: %q", out)
	}
	// Resource limits land in the container's cgroup.
	d.MustCtr(t, "run", "-d", "--name", "lim", "-m", "64m", "--pids-limit", "50", "--cpus", "0.5", "busybox", "sleep", "100")
	id := d.MustCtr(t, "inspect", "-f", "{{.Id}}", "lim")
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("cgroup file: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	cg := d.CgroupParent + "/" + id
	if v := read("/sys/fs/cgroup/memory" + cg + "/memory.limit_in_bytes"); v != "67108864" {
		t.Errorf("memory limit %s", v)
	}
	if v := read("/sys/fs/cgroup/pids" + cg + "/pids.max"); v != "50" {
		t.Errorf("pids limit %s", v)
	}
	if v := read("/sys/fs/cgroup/cpu" + cg + "/cpu.cfs_quota_us"); v != "50000" {
		t.Errorf("cpu quota %s", v)
	}
	d.MustCtr(t, "rm", "-f", "lim")
	if _, err := os.Stat("/sys/fs/cgroup/memory" + cg); !os.IsNotExist(err) {
		t.Errorf("cgroup %s not removed: %v", cg, err)
	}
}

func TestPsFormatsAndFilters(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "run", "-d", "--name", "up1", "-l", "tier=web", "busybox", "sleep", "100")
	d.MustCtr(t, "run", "--name", "done1", "busybox", "true")
	out := d.MustCtr(t, "ps")
	header := strings.Split(out, "\n")[0]
	for _, col := range []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"} {
		if !strings.Contains(header, col) {
			t.Errorf("ps header %q lacks %s", header, col)
		}
	}
	if strings.Contains(out, "done1") || !strings.Contains(out, "up1") {
		t.Errorf("ps without -a: %q", out)
	}
	if n := len(strings.Split(d.MustCtr(t, "ps", "-aq"), "\n")); n != 2 {
		t.Errorf("ps -aq lines %d", n)
	}
	if got := d.MustCtr(t, "ps", "-a", "-f", "status=exited", "--format", "{{.Names}}"); got != "done1" {
		t.Errorf("status filter: %q", got)
	}
	if got := d.MustCtr(t, "ps", "-a", "-f", "name=up", "--format", "{{.Names}}"); got != "up1" {
		t.Errorf("name filter: %q", got)
	}
	if got := d.MustCtr(t, "ps", "-l", "--format", "{{.Names}}"); got != "done1" {
		t.Errorf("ps -l: %q", got)
	}
	if got := d.MustCtr(t, "ps", "-a", "-n", "1", "--no-trunc", "--format", "{{.ID}}"); len(got) != 64 {
		t.Errorf("--no-trunc ID %q", got)
	}
	if got := d.MustCtr(t, "ps", "-a", "-f", "status=exited", "--format", "{{.Status}}"); !strings.HasPrefix(got, "Exited (0) ") || !strings.HasSuffix(got, " ago") {
		t.Errorf("exited status text %q", got)
	}
	r := d.Ctr("ps", "-f", "status=bogus")
	if r.Code == 0 {
		t.Errorf("bad filter accepted: %s", r)
	}
	js := d.MustCtr(t, "inspect", "-f", "{{json .State}}", "up1")
	if !strings.Contains(js, `"Status":"running"`) {
		t.Errorf("inspect json State: %s", js)
	}
	for _, f := range []string{"{{.Id}}", "{{.Name}}", "{{.Path}}", "{{.Args}}", "{{.Image}}", "{{.Config.Image}}", "{{.HostConfig.RestartPolicy.Name}}", "{{.GraphDriver.Name}}", "{{.State.StartedAt}}", "{{.Created}}"} {
		if v := d.MustCtr(t, "inspect", "-f", f, "up1"); v == "" || v == "<no value>" {
			t.Errorf("inspect %s empty", f)
		}
	}
}

// checkNoRuntimeLeftovers: nothing of stopped/removed containers remains
// mounted or running.
func checkNoRuntimeLeftovers(t *testing.T, d *Daemon) {
	t.Helper()
	running := map[string]bool{}
	for _, id := range strings.Fields(d.MustCtr(t, "ps", "-q", "--no-trunc")) {
		running[id] = true
	}
	ents, _ := os.ReadDir(filepath.Join(d.ExecRoot, "containers"))
	for _, e := range ents {
		if !running[e.Name()] {
			t.Errorf("runtime state left for container %s", e.Name())
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], filepath.Join(d.ExecRoot, "containers")+"/") {
			id := strings.Split(strings.TrimPrefix(f[4], filepath.Join(d.ExecRoot, "containers")+"/"), "/")[0]
			if !running[id] {
				t.Errorf("mount left: %s", f[4])
			}
		}
	}
}

func waitFor(t *testing.T, max time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("condition not met within %v", max)
}

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

type safeBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *safeBuffer) lock() {
	if b.mu == nil {
		b.mu = make(chan struct{}, 1)
	}
	b.mu <- struct{}{}
}

func (b *safeBuffer) Write(p []byte) {
	b.lock()
	b.buf.Write(p)
	<-b.mu
}

func (b *safeBuffer) String() string {
	b.lock()
	defer func() { <-b.mu }()
	return b.buf.String()
}

// TestDetachKeys: ctrl-p ctrl-q leaves an attached container running, and
// `ctr attach` gets back to it.
func TestDetachKeys(t *testing.T) {
	d := busyboxDaemon(t)
	cmd := exec.Command(ctrBin, "run", "-it", "--name", "det", "busybox", "sh")
	cmd.Env = append(cleanEnv(), "CTR_HOST="+d.Host)
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out safeBuffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "#") })
	ptmx.Write([]byte{0x10, 0x11}) // ctrl-p ctrl-q
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("detach ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("ctrl-p ctrl-q did not detach")
	}
	if st := d.MustCtr(t, "inspect", "-f", "{{.State.Running}}", "det"); st != "true" {
		t.Fatalf("container stopped on detach: %s", st)
	}
	// Attach again and end it.
	cmd = exec.Command(ctrBin, "attach", "det")
	cmd.Env = append(cleanEnv(), "CTR_HOST="+d.Host)
	ptmx2, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx2.Close()
	go io.Copy(io.Discard, ptmx2)
	time.Sleep(300 * time.Millisecond)
	ptmx2.Write([]byte("exit 4\n"))
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 4 {
			t.Fatalf("attach exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("attach did not end")
	}
}
