package shim

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// spareOf waits for the Standby's spare and returns its pid.
func spareOf(t *testing.T, sb *Standby) int {
	t.Helper()
	var pid int
	if !waitFor(10*time.Second, func() bool {
		sb.mu.Lock()
		defer sb.mu.Unlock()
		if sb.spare != nil {
			pid = sb.spare.cmd.Process.Pid
		}
		return pid != 0
	}) {
		t.Fatal("no spare shim")
	}
	return pid
}

// newTestStandby is a Standby of this test binary, closed at the test's end.
func newTestStandby(t *testing.T) (sb *Standby, exe, stateRoot string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stateRoot = t.TempDir()
	sb, err = NewStandby(exe, stateRoot)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	return sb, exe, stateRoot
}

func TestStandby(t *testing.T) {
	sb, exe, stateRoot := newTestStandby(t)
	spare := spareOf(t, sb)
	if cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(spare) + "/cmdline"); string(cmdline) != exe+"\x00shim\x00--standby\x00--state-root\x00"+stateRoot+"\x00" {
		t.Errorf("spare cmdline %q", cmdline)
	}
	if target, _ := os.Readlink("/proc/" + strconv.Itoa(spare) + "/exe"); !strings.HasPrefix(target, "/memfd:ctrd-shim") {
		t.Errorf("spare runs %q, want the sealed copy", target)
	}
	if env, _ := os.ReadFile("/proc/" + strconv.Itoa(spare) + "/environ"); !slices.Contains(strings.Split(string(env), "\x00"), "GOMAXPROCS=1") {
		t.Errorf("spare's environment lacks GOMAXPROCS=1: %q", env)
	}

	// The spare becomes the container's shim: stdio, log and exit code
	// as with a shim started for it.
	c := newCtr(t, "sh", "-c", "echo out; echo err >&2; exit 3")
	c.opts.Standby = sb
	c.opts.Debug = true
	c.run()
	// Its successor starts later, not while this container starts.
	sb.mu.Lock()
	early := sb.spare != nil || sb.filling != nil
	sb.mu.Unlock()
	if early {
		t.Error("the next spare was started right away")
	}
	st, err := c.c.State(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.ShimPid != spare {
		t.Errorf("shim pid %d, want the spare %d", st.ShimPid, spare)
	}
	if es := c.wait(); es.Code != 3 {
		t.Errorf("exit code %d, want 3", es.Code)
	}
	if b, _ := os.ReadFile(c.logPath); !strings.Contains(string(b), `"out\n","stream":"stdout"`) || !strings.Contains(string(b), `"err\n","stream":"stderr"`) {
		t.Errorf("container log:\n%s", b)
	}
	// Run from a sealed copy, the shim needs no per-container copy of
	// itself for the container's init.
	if b, _ := os.ReadFile(c.bundle + "/" + shimLogName); !strings.Contains(string(b), "skipping binary cloning") {
		t.Errorf("libcontainer cloned the shim binary; shim log:\n%s", b)
	}

	// A new spare follows; Cleanup recognises a spare-started shim by
	// its working directory and kills it when it is stuck.
	next := spareOf(t, sb)
	if next == spare {
		t.Fatal("spare not replaced")
	}
	c2 := newCtr(t, "sleep", "1000")
	c2.opts.Standby = sb
	c2.run()
	st2, err := c2.c.State(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st2.ShimPid != next {
		t.Errorf("second shim pid %d, want the spare %d", st2.ShimPid, next)
	}
	c2.c.Close()
	c2.c = nil
	if err := Cleanup(c2.stateRoot, c2.bundle, c2.id); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { return processGone(st2.ShimPid) && processGone(st2.Pid) }) {
		t.Error("shim or container left after Cleanup")
	}

	// Close stops the waiting spare.
	last := spareOf(t, sb)
	sb.Close()
	if !waitFor(5*time.Second, func() bool { return processGone(last) }) {
		t.Error("spare still running after Close")
	}
}

// A shim started as a spare serves another container once its container
// is deleted: the same process, with nothing of the first container left
// (descriptors, working directory), and with a spare already there it exits
// instead.
func TestStandbyReusesShims(t *testing.T) {
	sb, _, stateRoot := newTestStandby(t)
	fds := func(pid int) []string {
		es, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
		var out []string
		for _, e := range es {
			l, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + e.Name())
			out = append(out, e.Name()+"="+l)
		}
		return out
	}
	shim := spareOf(t, sb)
	var between []string
	for i, word := range []string{"first", "second", "third"} {
		c := newCtr(t, "echo", word)
		c.opts.Standby = sb
		c.opts.StateRoot = stateRoot
		if i == 1 { // with a pty: its master and console socket go too
			c.spec.Process.Terminal = true
			c.opts.Tty = true
		}
		c.run()
		st, err := c.c.State(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if st.ShimPid != shim {
			t.Fatalf("container %d: shim %d, want the reused %d", i, st.ShimPid, shim)
		}
		c.wait()
		if b, _ := os.ReadFile(c.logPath); !strings.Contains(string(b), word) {
			t.Errorf("container %d log: %q", i, b)
		}
		if _, err := c.c.Delete(ctx(t)); err != nil {
			t.Fatal(err)
		}
		c.c = nil
		if !waitFor(5*time.Second, func() bool {
			sb.mu.Lock()
			defer sb.mu.Unlock()
			return sb.spare != nil && sb.spare.cmd.Process.Pid == shim
		}) {
			t.Fatalf("container %d: the shim did not come back as the spare", i)
		}
		if cwd, _ := os.Readlink("/proc/" + strconv.Itoa(shim) + "/cwd"); cwd != "/" {
			t.Errorf("container %d: the spare works in %q", i, cwd)
		}
		got := fds(shim)
		if between == nil {
			between = got
		} else if !slices.Equal(got, between) {
			t.Errorf("container %d: descriptors %q, after the first %q", i, got, between)
		}
	}

	// A shim coming back while there is a spare exits.
	c1 := newCtr(t, "sleep", "1000")
	c1.opts.Standby = sb
	c1.opts.StateRoot = stateRoot
	c1.run()
	spareOf(t, sb) // its successor
	if _, err := c1.c.Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
	c1.c = nil
	if !waitFor(5*time.Second, func() bool { return processGone(shim) }) {
		t.Error("a second spare did not exit")
	}
}

// Where the sealed copy cannot be executed, shims start from the binary.
func TestStandbyFallsBackToBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sb := &Standby{path: exe, exe: "/proc/self/fd/999999", stateRoot: t.TempDir()}
	defer sb.Close()
	c := newCtr(t, "sh", "-c", "exit 7")
	c.opts.Standby = sb
	c.run()
	if es := c.wait(); es.Code != 7 {
		t.Errorf("exit code %d, want 7", es.Code)
	}
	sb.mu.Lock()
	got := sb.exe
	sb.mu.Unlock()
	if got != exe {
		t.Errorf("shims now start from %q, want %q", got, exe)
	}
	spareOf(t, sb) // and spares start too
}

// TestWarmUp: the spare's warm-up goes through the whole conversion (a
// spec it cannot convert would warm nothing, silently) and leaves nothing
// behind in its working directory.
func TestWarmUp(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := warm(); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Fatalf("warm-up created %v", es)
	}
}
