package shim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	ctrdruntime "github.com/ctrd/ctrd/runtime"
)

// cgroupParent holds every test container's cgroup; removed at the end.
var cgroupParent string

func TestMain(m *testing.M) {
	// The test binary stands in for ctrd: it is re-executed as the shim
	// and as libcontainer's init.
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			ctrdruntime.ContainerInit()
		case "shim":
			os.Exit(Main(os.Args[2:]))
		}
	}
	if os.Geteuid() != 0 {
		fmt.Println("skipping runtime/shim tests: they need root")
		os.Exit(0)
	}
	sweepStale()
	cgroupParent = fmt.Sprintf("/ctrd-test-%d", os.Getpid())
	code := m.Run()
	if err := removeCgroup(cgroupParent); err != nil {
		fmt.Fprintln(os.Stderr, "removing test cgroups:", err)
		code = 1
	}
	os.Exit(code)
}

// sweepStale removes what an earlier run of this test binary left when it
// died without cleaning up (a timeout panic, SIGKILL): its shims, and its
// cgroups with the processes in them.
func sweepStale() {
	alive := func(pid string) bool { n, err := strconv.Atoi(pid); return err == nil && !dead(n) }
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) < 4 || args[1] != "shim" || args[2] != "--id" || !strings.HasPrefix(args[3], "t") {
			continue
		}
		owner, _, ok := strings.Cut(args[3][1:], "-")
		if ok && owner != strconv.Itoa(os.Getpid()) && !alive(owner) {
			pid, _ := strconv.Atoi(strings.Split(f, "/")[2])
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/ctrd-test-*")
	seen := map[string]bool{}
	for _, d := range dirs {
		name := filepath.Base(d)
		if !seen[name] && !alive(strings.TrimPrefix(name, "ctrd-test-")) {
			seen[name] = true
			if err := removeCgroup("/" + name); err != nil {
				fmt.Fprintln(os.Stderr, "removing stale test cgroups:", err)
			}
		}
	}
}

var (
	busyboxOnce sync.Once
	busyboxList []string
	busyboxErr  error
)

// makeRootfs builds a busybox root filesystem in dir.
func makeRootfs(tb testing.TB, dir string) {
	tb.Helper()
	busyboxOnce.Do(func() {
		var out []byte
		out, busyboxErr = exec.Command("/bin/busybox", "--list").Output()
		busyboxList = strings.Fields(string(out))
	})
	if busyboxErr != nil {
		tb.Skipf("busybox: %v", busyboxErr)
	}
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), b, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, a := range busyboxList {
		if a == "busybox" {
			continue
		}
		_ = os.Symlink("busybox", filepath.Join(dir, "bin", a))
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// testSpec is a minimal Docker-like spec for a busybox container.
func testSpec(rootfs, id string, args ...string) *specs.Spec {
	return &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: rootfs},
		Hostname: id,
		Process: &specs.Process{
			Args: args,
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: defaultCaps, Effective: defaultCaps, Permitted: defaultCaps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			CgroupsPath: cgroupParent + "/" + id,
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace},
			},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			MaskedPaths:   []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// jsonLine is one entry of Docker's json-file log format.
type jsonLine struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// ctr is one test container.
type ctr struct {
	t         testing.TB
	id        string
	bundle    string
	stateRoot string
	logPath   string
	spec      *specs.Spec
	opts      StartOptions
	c         *Client
}

var idSeq int

// newCtr prepares a bundle (rootfs + config.json) for args; tweak c.spec
// and c.opts before c.start().
func newCtr(tb testing.TB, args ...string) *ctr {
	tb.Helper()
	idSeq++
	id := fmt.Sprintf("t%d-%d", os.Getpid(), idSeq)
	dir := tb.TempDir()
	bundle := filepath.Join(dir, "bundle")
	rootfs := filepath.Join(bundle, "rootfs")
	makeRootfs(tb, rootfs)
	c := &ctr{
		t: tb, id: id, bundle: bundle,
		stateRoot: filepath.Join(dir, "state"),
		logPath:   filepath.Join(bundle, "container.log"),
		spec:      testSpec(rootfs, id, args...),
	}
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	c.opts = StartOptions{ID: id, Bundle: bundle, StateRoot: c.stateRoot, Binary: exe, LogPath: c.logPath}
	tb.Cleanup(c.cleanup)
	return c
}

func (c *ctr) writeSpec() {
	b, err := json.MarshalIndent(c.spec, "", "\t")
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.bundle, "config.json"), b, 0o600); err != nil {
		c.t.Fatal(err)
	}
}

// create spawns the shim (container created, not started).
func (c *ctr) create() error {
	c.writeSpec()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := Start(ctx, c.opts)
	if err != nil {
		return err
	}
	c.c = cl
	return nil
}

func (c *ctr) mustCreate() {
	c.t.Helper()
	if err := c.create(); err != nil {
		c.t.Fatalf("create: %v\nshim log: %s", err, tail(filepath.Join(c.bundle, shimLogName), 2000))
	}
}

// run creates and starts the container.
func (c *ctr) run() {
	c.t.Helper()
	c.mustCreate()
	pid, err := c.c.Start(ctx(c.t))
	if err != nil {
		c.t.Fatalf("start: %v", err)
	}
	// The daemon records the pid Start returns: it must be the init's.
	if st, err := c.c.State(ctx(c.t)); err != nil || st.Pid != pid || pid <= 0 {
		c.t.Fatalf("start returned pid %d, state says %d (%v)", pid, st.Pid, err)
	}
}

func (c *ctr) wait() ExitStatus {
	c.t.Helper()
	st, err := c.c.Wait(ctx(c.t))
	if err != nil {
		c.t.Fatalf("wait: %v", err)
	}
	return st
}

func (c *ctr) cleanup() {
	if c.c != nil {
		dctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if _, err := c.c.Delete(dctx); err != nil && !errors.Is(err, ErrShimGone) {
			c.t.Errorf("delete: %v", err)
		}
		cancel()
	}
	if err := Cleanup(c.stateRoot, c.bundle, c.id); err != nil {
		c.t.Errorf("cleanup: %v", err)
	}
	if d := cgroupDirs(cgroupParent + "/" + c.id); len(d) > 0 {
		c.t.Errorf("cgroup left behind: %v", d)
	}
	// The shim is this test binary: with -race, its reports land here.
	if b, err := os.ReadFile(filepath.Join(c.bundle, shimLogName)); err == nil {
		if bytes.Contains(b, []byte("DATA RACE")) || bytes.Contains(b, []byte("panic:")) {
			c.t.Errorf("shim log:\n%s", b)
		} else if len(b) > 0 && testing.Verbose() {
			c.t.Logf("shim log:\n%s", b)
		}
	}
}

func ctx(tb testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return c
}

// logLines reads the json-file log.
// logText is the container's log, both streams, as one text.
func (c *ctr) logText() string {
	var b strings.Builder
	for _, l := range c.logLines() {
		b.WriteString(l.Log)
	}
	return b.String()
}

func (c *ctr) logLines() []jsonLine {
	c.t.Helper()
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	var lines []jsonLine
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var j jsonLine
		if err := json.Unmarshal(l, &j); err != nil {
			c.t.Fatalf("bad log line %q: %v", l, err)
		}
		lines = append(lines, j)
	}
	return lines
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

func processGone(pid int) bool {
	return dead(pid)
}
