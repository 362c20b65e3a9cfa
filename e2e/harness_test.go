// Package e2e holds end-to-end tests: each starts a real ctrd on throw-away
// directories, socket, bridge, subnet and cgroup parent, drives it with the
// real bin/ctr, and removes every trace of it afterwards, pass or fail.
//
// Build the binaries first (`make e2e` does): the tests run ../bin/ctrd and
// ../bin/ctr. They need root and skip without it.
package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

const (
	defaultCtrTimeout = 60 * time.Second
	readyTimeout      = 30 * time.Second
	stopTimeout       = 10 * time.Second
	rootPattern       = "ctrd-e2e-*" // under os.TempDir()
	stateFile         = "harness.json"
)

var (
	ctrBin  = absPath("../bin/ctr")
	ctrdBin = absPath("../bin/ctrd")

	allocMu  sync.Mutex
	roots    []string            // every Root made by this test binary
	reserved = map[string]bool{} // bridge names and subnets handed out
)

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		sweepStale()
		sweepBusybox()
	}
	code := m.Run()
	if os.Geteuid() == 0 {
		allocMu.Lock()
		rs := append([]string(nil), roots...)
		allocMu.Unlock()
		if left := mountsUnder(rs); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "e2e: FAIL: %d mount(s) left behind after the tests:\n", len(left))
			for _, mi := range left {
				fmt.Fprintf(os.Stderr, "  %s %s %s\n", mi.FSType, mi.Mountpoint, mi.VFSOptions)
			}
			for _, r := range rs {
				unmountUnder(r)
			}
			code = 1
		}
	}
	if busybox.dir != "" {
		os.RemoveAll(busybox.dir)
	}
	os.Exit(code)
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("e2e tests need root (run `sudo make e2e`)")
	}
}

func requireBinaries(t testing.TB) {
	t.Helper()
	for _, b := range []string{ctrdBin, ctrBin} {
		if st, err := os.Stat(b); err != nil || st.IsDir() {
			t.Fatalf("%s not found: run `make binaries` (or `make e2e`) first", b)
		}
	}
}

// Result is the outcome of one command.
type Result struct {
	Stdout, Stderr string
	Code           int // -1: could not run or timed out
}

func (r Result) String() string {
	return fmt.Sprintf("exit code %d\n--- stdout:\n%s\n--- stderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Daemon is one ctrd under test. Its exported fields are fixed at creation
// and stay the same across restarts.
type Daemon struct {
	Root         string // everything the daemon may write lives below
	DataRoot     string
	ExecRoot     string
	Sock         string
	Host         string // unix://Sock
	Bridge       string // cte<4 hex>
	BIP          string // 10.<200-250>.<x>.1/24
	CgroupParent string // /ctrd-e2e-<hex>
	LogPath      string
	ConfigPath   string // an empty daemon.json
	// Timeout bounds each ctr call (0: 60 s).
	Timeout time.Duration

	// How the daemon is started: args follow the binary; wrap is put in
	// front (e.g. a shell); env is added to a clean environment; files are
	// inherited as fd 3, 4, ….
	args  []string
	wrap  []string
	env   []string
	files []*os.File

	cmd    *exec.Cmd
	exited chan struct{}
}

// StartDaemon starts a ctrd on fresh dirs and waits until it answers.
// Everything it made is removed when the test ends.
func StartDaemon(t *testing.T, extraArgs ...string) *Daemon {
	t.Helper()
	d := newDaemon(t)
	d.args = append(d.defaultArgs(), extraArgs...)
	d.start(t, true)
	return d
}

// newDaemon allocates dirs, names and cleanup, without starting anything.
func newDaemon(t *testing.T) *Daemon {
	t.Helper()
	RequireRoot(t)
	requireBinaries(t)
	root, err := os.MkdirTemp("", rootPattern)
	if err != nil {
		t.Fatal(err)
	}
	allocMu.Lock()
	roots = append(roots, root)
	allocMu.Unlock()
	d := &Daemon{
		Root:         root,
		DataRoot:     filepath.Join(root, "data"),
		ExecRoot:     filepath.Join(root, "exec"),
		Sock:         filepath.Join(root, "ctrd.sock"),
		LogPath:      filepath.Join(root, "ctrd.log"),
		ConfigPath:   filepath.Join(root, "daemon.json"),
		CgroupParent: "/ctrd-e2e-" + randHex(4),
	}
	d.Host = "unix://" + d.Sock
	t.Cleanup(func() { d.cleanup(t) })
	if d.Bridge, err = pickBridge(); err != nil {
		t.Fatal(err)
	}
	if d.BIP, err = pickSubnet(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.ConfigPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Recorded so that a later run can clean up after a killed test binary.
	st, _ := json.Marshal(staleState{Daemon: d, Owner: os.Getpid(), OwnerStart: procStartTime(os.Getpid())})
	if err := os.WriteFile(filepath.Join(root, stateFile), st, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *Daemon) defaultArgs() []string {
	return []string{
		"--data-root", d.DataRoot, "--exec-root", d.ExecRoot, "-H", d.Host,
		"--bridge", d.Bridge, "--bip", d.BIP, "--cgroup-parent", d.CgroupParent,
		"--config", d.ConfigPath, "--log-level", "debug",
	}
}

// start runs the daemon; with wait, it returns once `ctr version` answers.
func (d *Daemon) start(t *testing.T, wait bool) {
	t.Helper()
	logf, err := os.OpenFile(d.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== e2e: starting %s %s\n", ctrdBin, strings.Join(d.args, " "))
	argv := append(append(append([]string{}, d.wrap...), ctrdBin), d.args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(cleanEnv(), d.env...)
	cmd.ExtraFiles = d.files
	// If the test binary dies, so does its daemon (shims are swept later).
	// Pdeathsig follows the forking OS thread: do not start daemons from a
	// goroutine that locks its thread and exits locked.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ctrd: %v", err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(cmd, d.exited)
	if wait {
		d.waitReady(t)
	}
}

func (d *Daemon) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	var last Result
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			t.Fatalf("ctrd exited during start-up (%v); log:\n%s", d.cmd.ProcessState, d.LogTail(40))
		default:
		}
		if last = runCtr(d.Host, nil, 5*time.Second, "version"); last.Code == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("ctrd did not answer `ctr version` within %s: %s\nlog:\n%s", readyTimeout, last, d.LogTail(40))
}

// Pid is the daemon's process ID (0 if never started).
func (d *Daemon) Pid() int {
	if d.cmd == nil || d.cmd.Process == nil {
		return 0
	}
	return d.cmd.Process.Pid
}

// Running reports whether the daemon process is alive.
func (d *Daemon) Running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// wait waits up to timeout for the daemon to exit.
func (d *Daemon) wait(timeout time.Duration) bool {
	if d.cmd == nil {
		return true
	}
	select {
	case <-d.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Stop sends SIGTERM and expects a clean exit (code 0) within 10 s; after
// that it kills the daemon and fails the test.
func (d *Daemon) Stop(t *testing.T) {
	t.Helper()
	if !d.Running() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if !d.wait(stopTimeout) {
		_ = d.cmd.Process.Kill()
		d.wait(stopTimeout)
		t.Errorf("ctrd did not exit within %s of SIGTERM; killed it", stopTimeout)
		return
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("ctrd exited with %v after SIGTERM, want exit code 0; log:\n%s", d.cmd.ProcessState, d.LogTail(20))
	}
}

// Kill9 kills the daemon with SIGKILL and waits for it to be gone.
func (d *Daemon) Kill9(t *testing.T) {
	t.Helper()
	if !d.Running() {
		return
	}
	_ = d.cmd.Process.Kill()
	if !d.wait(stopTimeout) {
		t.Fatalf("ctrd (pid %d) still alive %s after SIGKILL", d.Pid(), stopTimeout)
	}
}

// Restart stops the daemon (if running) and starts it again on the same
// dirs and flags.
func (d *Daemon) Restart(t *testing.T) {
	t.Helper()
	d.Stop(t)
	d.start(t, true)
}

// Ctr runs bin/ctr against the daemon.
func (d *Daemon) Ctr(args ...string) Result { return d.CtrStdin(nil, args...) }

// CtrStdin runs bin/ctr with stdin.
func (d *Daemon) CtrStdin(stdin io.Reader, args ...string) Result {
	timeout := d.Timeout
	if timeout == 0 {
		timeout = defaultCtrTimeout
	}
	return runCtr(d.Host, stdin, timeout, args...)
}

// MustCtr runs bin/ctr and fails the test unless it exits 0. It returns
// stdout without its trailing newlines.
func (d *Daemon) MustCtr(t testing.TB, args ...string) string {
	t.Helper()
	r := d.Ctr(args...)
	if r.Code != 0 {
		t.Fatalf("ctr %s: %s", strings.Join(args, " "), r)
	}
	return strings.TrimRight(r.Stdout, "\n")
}

// ImportBusybox imports the busybox rootfs with CMD ["/bin/sh"] as ref ("":
// untagged) and returns the image ID.
func (d *Daemon) ImportBusybox(t testing.TB, ref string) string {
	t.Helper()
	args := []string{"import", "-c", `CMD ["/bin/sh"]`, BusyboxTar(t)}
	if ref != "" {
		args = append(args, ref)
	}
	out := d.MustCtr(t, args...)
	id := out[strings.LastIndex(out, "\n")+1:]
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("ctr import printed %q, want an image ID", out)
	}
	return id
}

// LogTail returns the last n lines of the daemon's log.
func (d *Daemon) LogTail(n int) string {
	b, _ := os.ReadFile(d.LogPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func runCtr(host string, stdin io.Reader, timeout time.Duration, args ...string) Result {
	return runCmd(stdin, timeout, append(cleanEnv(), "CTR_HOST="+host), ctrBin, args...)
}

// runCmd runs a program with a timeout and captures its output.
func runCmd(stdin io.Reader, timeout time.Duration, env []string, name string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin = stdin
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.Code = -1
		r.Stderr += fmt.Sprintf("\n[e2e: %s timed out after %s]", filepath.Base(name), timeout)
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		r.Code = -1
		r.Stderr += "\n[e2e: " + err.Error() + "]"
	}
	return r
}

// cleanEnv is the test's environment without what would change how ctr or
// ctrd behave (host, systemd notification and activation).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "CTR_HOST", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES":
		default:
			env = append(env, kv)
		}
	}
	return env
}

func randHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randInt(n int) int {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return int(uint32(b[0])|uint32(b[1])<<8|uint32(b[2])<<16|uint32(b[3])<<24) % n
}

// pickBridge returns an unused interface name cte<4 hex>.
func pickBridge() (string, error) {
	allocMu.Lock()
	defer allocMu.Unlock()
	for range 100 {
		name := "cte" + randHex(4)
		if _, err := net.InterfaceByName(name); err == nil || reserved[name] {
			continue
		}
		reserved[name] = true
		return name, nil
	}
	return "", errors.New("no free bridge name")
}

// pickSubnet returns 10.<200-250>.<x>.1/24, overlapping no address or
// route of the host and no other daemon of this test binary.
func pickSubnet() (string, error) {
	allocMu.Lock()
	defer allocMu.Unlock()
	var used []*net.IPNet
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				used = append(used, n)
			}
		}
	}
	used = append(used, hostRoutes()...)
	for range 500 {
		cidr := fmt.Sprintf("10.%d.%d.0/24", 200+randInt(51), randInt(256))
		_, n, _ := net.ParseCIDR(cidr)
		if reserved[cidr] || overlapsAny(n, used) {
			continue
		}
		reserved[cidr] = true
		return strings.TrimSuffix(cidr, "0/24") + "1/24", nil
	}
	return "", errors.New("no free 10.200-250.x.0/24 subnet")
}

func overlapsAny(n *net.IPNet, used []*net.IPNet) bool {
	for _, u := range used {
		if u.Contains(n.IP) || n.Contains(u.IP) {
			return true
		}
	}
	return false
}

// hostRoutes are the IPv4 routes of the main table, except default routes.
func hostRoutes() []*net.IPNet {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []*net.IPNet
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 8 {
			continue
		}
		dst, err1 := strconv.ParseUint(fs[1], 16, 32)
		mask, err2 := strconv.ParseUint(fs[7], 16, 32)
		if err1 != nil || err2 != nil || mask == 0 {
			continue
		}
		le := func(v uint64) net.IP { return net.IPv4(byte(v), byte(v>>8), byte(v>>16), byte(v>>24)).To4() }
		out = append(out, &net.IPNet{IP: le(dst), Mask: net.IPMask(le(mask))})
	}
	return out
}

// ---- cleanup -------------------------------------------------------------

func (d *Daemon) cleanup(t *testing.T) {
	if d.Running() {
		// User networks have bridges of their own, which only the daemon
		// knows: remove them (and the containers on them) through it.
		if nets := strings.Fields(d.Ctr("network", "ls", "--format", "{{.Name}}").Stdout); len(nets) > 3 {
			if ids := strings.Fields(d.Ctr("ps", "-aq").Stdout); len(ids) > 0 {
				d.Ctr(append([]string{"rm", "-f"}, ids...)...)
			}
			for _, n := range nets {
				if n != "bridge" && n != "host" && n != "none" {
					d.Ctr("network", "rm", n)
				}
			}
		}
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		if !d.wait(stopTimeout) {
			t.Logf("ctrd did not exit within %s of SIGTERM: killing it", stopTimeout)
			_ = d.cmd.Process.Kill()
			d.wait(stopTimeout)
		}
	}
	if t.Failed() {
		t.Logf("ctrd log (%s), last lines:\n%s", d.LogPath, d.LogTail(60))
	}
	for _, err := range d.removeAll() {
		t.Errorf("e2e cleanup: %v", err)
	}
}

// removeAll removes every trace a daemon (and its shims and containers) may
// have left on the host. It works from the exported fields only, so it can
// also clean up after a test binary that was killed.
func (d *Daemon) removeAll() []error {
	if !strings.HasPrefix(filepath.Base(d.Root), "ctrd-e2e-") || !strings.HasPrefix(d.CgroupParent, "/ctrd-e2e-") ||
		!strings.HasPrefix(d.Bridge, "cte") {
		return []error{fmt.Errorf("refusing to clean up unexpected names %q %q %q", d.Root, d.CgroupParent, d.Bridge)}
	}
	var errs []error
	if left := killProcesses(d.cgroupDirs(), d.Root+"/"); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes still alive after SIGKILL: %v", left))
	}
	if left := unmountUnder(d.Root); len(left) > 0 {
		errs = append(errs, fmt.Errorf("could not unmount %v", left))
	}
	errs = append(errs, d.removeNetwork()...)
	errs = append(errs, d.removeCgroups()...)
	if err := os.RemoveAll(d.Root); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// cgroupDirs lists the daemon's cgroup parent in every hierarchy.
func (d *Daemon) cgroupDirs() []string {
	hs, _ := filepath.Glob("/sys/fs/cgroup/*")
	var out []string
	for _, h := range hs {
		p := filepath.Join(h, d.CgroupParent)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// killProcesses SIGKILLs every process in the cgroups below dirs and every
// process whose command line mentions marker, until none is left (bounded).
func killProcesses(dirs []string, marker string) []int {
	self := os.Getpid()
	find := func() []int {
		set := map[int]bool{}
		for _, dir := range dirs {
			_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
				if err != nil || !e.IsDir() {
					return nil
				}
				_ = os.WriteFile(filepath.Join(p, "freezer.state"), []byte("THAWED"), 0) // a frozen task cannot die
				b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil {
						set[pid] = true
					}
				}
				return nil
			})
		}
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err != nil || !bytes.Contains(b, []byte(marker)) {
				continue
			}
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				set[pid] = true
			}
		}
		var pids []int
		for pid := range set {
			if pid != self && pid > 1 && !isZombie(pid) {
				pids = append(pids, pid)
			}
		}
		sort.Ints(pids)
		return pids
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := find()
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // gone
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// mountsUnder lists mounts at or below any of roots, and overlay mounts
// built from layers below them.
func mountsUnder(roots []string) []*mountinfo.Info {
	ms, err := mountinfo.GetMounts(nil)
	if err != nil {
		return nil
	}
	var out []*mountinfo.Info
	for _, m := range ms {
		for _, r := range roots {
			if m.Mountpoint == r || strings.HasPrefix(m.Mountpoint, r+"/") ||
				(m.FSType == "overlay" && strings.Contains(m.VFSOptions, r+"/")) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// unmountUnder unmounts everything mounted below root, deepest first, with a
// lazy unmount as the fallback; it returns what is still mounted.
func unmountUnder(root string) []string {
	for range 5 {
		ms := mountsUnder([]string{root})
		if len(ms) == 0 {
			return nil
		}
		sort.Slice(ms, func(i, j int) bool { return len(ms[i].Mountpoint) > len(ms[j].Mountpoint) })
		for _, m := range ms {
			if unix.Unmount(m.Mountpoint, 0) != nil {
				_ = unix.Unmount(m.Mountpoint, unix.MNT_DETACH)
			}
		}
	}
	var left []string
	for _, m := range mountsUnder([]string{root}) {
		left = append(left, m.Mountpoint)
	}
	return left
}

// removeNetwork deletes the bridge, the veths attached to it and nft tables
// named after it.
func (d *Daemon) removeNetwork() []error {
	var errs []error
	if out, err := exec.Command("ip", "-o", "link", "show", "master", d.Bridge).Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(fs[1], ":"), "@")
			if b, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil && linkExists(name) {
				errs = append(errs, fmt.Errorf("ip link del %s: %s", name, bytes.TrimSpace(b)))
			}
		}
	}
	if linkExists(d.Bridge) {
		if b, err := exec.Command("ip", "link", "del", d.Bridge).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip link del %s: %s", d.Bridge, bytes.TrimSpace(b)))
		}
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return errs
	}
	out, err := exec.Command("nft", "list", "tables").Output()
	if err != nil {
		return append(errs, fmt.Errorf("nft list tables: %v", err))
	}
	for _, line := range strings.Split(string(out), "\n") {
		fs := strings.Fields(line) // table <family> <name>
		if len(fs) == 3 && fs[0] == "table" && strings.Contains(fs[2], d.Bridge) {
			if b, err := exec.Command("nft", "delete", "table", fs[1], fs[2]).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("nft delete table %s %s: %s", fs[1], fs[2], bytes.TrimSpace(b)))
			}
		}
	}
	return errs
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// removeCgroups removes the cgroup parent (and its children) in every
// hierarchy, deepest first.
func (d *Daemon) removeCgroups() []error {
	var dirs []string
	for _, top := range d.cgroupDirs() {
		_ = filepath.WalkDir(top, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	var errs []error
	for _, dir := range dirs {
		var err error
		for i := 0; i < 50; i++ { // EBUSY while the last tasks exit
			if err = unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
				err = nil
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rmdir %s: %v", dir, err))
		}
	}
	return errs
}

// ---- leftovers of killed test binaries -------------------------------------

type staleState struct {
	*Daemon
	Owner      int    `json:"owner"`
	OwnerStart string `json:"ownerStart"`
}

// sweepStale cleans up after test binaries that died without their
// cleanups (timeout panic, SIGKILL): roots whose owner process is gone.
func sweepStale() {
	files, _ := filepath.Glob(filepath.Join(os.TempDir(), rootPattern, stateFile))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		st := staleState{Daemon: &Daemon{}}
		if json.Unmarshal(b, &st) != nil || st.Root != filepath.Dir(f) {
			continue
		}
		if st.Owner > 0 && procStartTime(st.Owner) == st.OwnerStart {
			continue // its test binary is still running
		}
		fmt.Fprintf(os.Stderr, "e2e: removing leftovers of a dead test run in %s\n", st.Root)
		for _, err := range st.removeAll() {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		}
	}
}

// sweepBusybox removes busybox dirs of test binaries that are gone.
func sweepBusybox() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "ctrd-busybox-*-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.Split(filepath.Base(d), "-")[2])
		if err == nil && procStartTime(pid) == "" {
			os.RemoveAll(d)
		}
	}
}

// procStartTime identifies a process across PID reuse ("" if it is gone).
func procStartTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		if fs := strings.Fields(s[i+1:]); len(fs) > 19 {
			return fs[19] // field 22: starttime
		}
	}
	return ""
}

// ---- busybox rootfs --------------------------------------------------------

var busybox struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// BusyboxTar returns a busybox root file system tarball made (once per test
// binary) from the host's static /bin/busybox: busybox and its applet links
// in /bin, /etc/passwd and /etc/group (root, app 1000, nobody), /tmp (1777),
// /root, /home/app and /var/www/index.html.
func BusyboxTar(t testing.TB) string {
	t.Helper()
	busybox.once.Do(func() {
		busybox.dir, busybox.err = os.MkdirTemp("", fmt.Sprintf("ctrd-busybox-%d-*", os.Getpid()))
		if busybox.err == nil {
			busybox.path = filepath.Join(busybox.dir, "busybox.tar")
			busybox.err = writeBusyboxTar(busybox.path)
		}
	})
	if busybox.err != nil {
		t.Fatalf("busybox rootfs: %v", busybox.err)
	}
	return busybox.path
}

func writeBusyboxTar(path string) error {
	const bb = "/bin/busybox"
	bin, err := os.ReadFile(bb)
	if err != nil {
		return fmt.Errorf("%v (apt-get install -y busybox-static)", err)
	}
	if out, err := exec.Command("ldd", bb).CombinedOutput(); err == nil && !bytes.Contains(out, []byte("not a dynamic")) {
		return fmt.Errorf("%s is dynamically linked: apt-get install -y busybox-static", bb)
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %v", bb, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) // same bytes every run
	tw := tar.NewWriter(f)
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Format = mtime, tar.FormatPAX
		h.Size = int64(len(body))
		if err == nil {
			err = tw.WriteHeader(h)
		}
		if err == nil && len(body) > 0 {
			_, err = tw.Write(body)
		}
	}
	dir := func(name string, mode int64, uid int) {
		add(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: uid}, nil)
	}
	file := func(name string, mode int64, body string) {
		add(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode}, []byte(body))
	}
	for _, d := range []string{"bin", "etc", "home", "var", "var/www"} {
		dir(d, 0o755, 0)
	}
	dir("home/app", 0o755, 1000)
	dir("root", 0o700, 0)
	dir("tmp", 0o1777, 0)
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755}, bin)
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777}, nil)
		}
	}
	file("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
	file("etc/group", 0o644, "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n")
	file("var/www/index.html", 0o644, "<html><body>hello from ctrd</body></html>\n")
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
