//go:build linux && cgo && seccomp

package seccompcache

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runc/libcontainer/configs"
	lcseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestMain also runs the helper processes of TestReplayLoads: they load a
// filter into one of their threads, print its id and wait to be examined.
func TestMain(m *testing.M) {
	if mode := os.Getenv("SECCOMPCACHE_HELPER"); mode != "" {
		os.Exit(loadHelper(mode))
	}
	os.Exit(m.Run())
}

// dockerProfile is Docker's default profile for a container with caps.
func dockerProfile(t *testing.T, caps ...string) *configs.Seccomp {
	t.Helper()
	p, err := seccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: caps},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := specconv.SetupSeccomp(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// statusField is field of the /proc status file at path.
func statusField(t *testing.T, path, field string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in status", field)
	return ""
}

func TestCompileLoadsNothing(t *testing.T) {
	if !wrapped() {
		t.Fatal("libseccomp's export is not wrapped: the test binary was linked without the package's --wrap flags")
	}
	cfg := dockerProfile(t, "CAP_CHOWN", "CAP_KILL")
	a, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) < 100*8 || len(a)%8 != 0 || !bytes.Equal(a, b) {
		t.Fatalf("programs of %d and %d bytes, equal %v", len(a), len(b), bytes.Equal(a, b))
	}
	c, err := Compile(dockerProfile(t, "CAP_SYS_ADMIN"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Error("profiles for different capabilities compiled to the same program")
	}
	// No thread of this process got a filter, nor no_new_privs (the
	// thread Compile ran on has exited with its goroutine).
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads: %v %v", tasks, err)
	}
	for _, st := range tasks {
		if m, nnp := statusField(t, st, "Seccomp"), statusField(t, st, "NoNewPrivs"); m != "0" || nnp != "0" {
			t.Errorf("%s: Seccomp %s, NoNewPrivs %s", st, m, nnp)
		}
	}
}

func TestKeyOf(t *testing.T) {
	a, err := KeyOf(dockerProfile(t, "CAP_CHOWN"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := KeyOf(dockerProfile(t, "CAP_CHOWN"))
	c, _ := KeyOf(dockerProfile(t, "CAP_CHOWN", "CAP_SYS_PTRACE"))
	if a != b || a == c {
		t.Fatalf("keys: same config %v, other config %v", a == b, a == c)
	}
}

// loadHelper loads, on a thread of its own, the filter libcontainer builds
// for the configuration in $SECCOMPCACHE_CONFIG: compiled by libseccomp
// ("compile"), or with the program in $SECCOMPCACHE_PROG armed ("replay").
func loadHelper(mode string) int {
	runtime.LockOSThread()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 3 }
	var cfg configs.Seccomp
	b, err := os.ReadFile(os.Getenv("SECCOMPCACHE_CONFIG"))
	if err != nil {
		return fail(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fail(err)
	}
	if mode == "replay" {
		prog, err := os.ReadFile(os.Getenv("SECCOMPCACHE_PROG"))
		if err != nil {
			return fail(err)
		}
		Arm(prog)
	}
	if _, err := lcseccomp.InitSeccomp(&cfg); err != nil {
		return fail(err)
	}
	fmt.Printf("%d\n", unix.Gettid())
	// Wait on this thread, filtered, until the test is done with it.
	var buf [1]byte
	_, _ = unix.Read(0, buf[:])
	return 0
}

// loadedFilter runs loadHelper and returns the filter its thread got,
// read with ptrace.
func loadedFilter(t *testing.T, mode string, cfg *configs.Seccomp, prog []byte) []unix.SockFilter {
	t.Helper()
	dir := t.TempDir()
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath, progPath := filepath.Join(dir, "config.json"), filepath.Join(dir, "prog")
	if err := os.WriteFile(cfgPath, j, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(progPath, prog, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SECCOMPCACHE_HELPER="+mode, "SECCOMPCACHE_CONFIG="+cfgPath, "SECCOMPCACHE_PROG="+progPath)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Wait()
		t.Fatalf("%s helper: %v: %s", mode, err, stderr.String())
	}
	tid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}

	// ptrace requests must all come from the tracer thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.PtraceSeize(tid); err != nil {
		t.Fatalf("ptrace seize: %v", err)
	}
	defer func() { _ = unix.PtraceDetach(tid) }()
	if err := unix.PtraceInterrupt(tid); err != nil {
		t.Fatalf("ptrace interrupt: %v", err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(tid, &ws, unix.WALL, nil); err != nil {
		t.Fatalf("wait for tracee: %v", err)
	}
	n, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(tid), 0, 0, 0, 0)
	if errno != 0 {
		t.Fatalf("PTRACE_SECCOMP_GET_FILTER: %v", errno)
	}
	insns := make([]unix.SockFilter, n)
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(tid), 0, uintptr(unsafe.Pointer(&insns[0])), 0, 0); errno != 0 {
		t.Fatalf("PTRACE_SECCOMP_GET_FILTER: %v", errno)
	}
	return insns
}

func progOf(insns []unix.SockFilter) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.NativeEndian, insns)
	return b.Bytes()
}

// TestReplayLoads checks the filter a replayed program ends in: the same
// as libcontainer compiles and loads itself, and the armed program (not
// the configuration's rules) is what it is made of.
func TestReplayLoads(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading a filter without no_new_privs and reading it back need root")
	}
	cfg := dockerProfile(t, "CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW")
	prog, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// libcontainer loads its -ENOSYS stub (whose order of architectures
	// varies from run to run) followed by libseccomp's program: the one
	// Compile made, whether libseccomp compiled it again or not.
	compiled := progOf(loadedFilter(t, "compile", cfg, nil))
	replayed := progOf(loadedFilter(t, "replay", cfg, prog))
	if len(compiled) != len(replayed) || !bytes.HasSuffix(compiled, prog) || !bytes.HasSuffix(replayed, prog) {
		t.Fatalf("loaded filters of %d bytes (compiled) and %d (replayed); each ends with Compile's %d: %v, %v",
			len(compiled), len(replayed), len(prog), bytes.HasSuffix(compiled, prog), bytes.HasSuffix(replayed, prog))
	}

	// Another profile's program, armed, is what gets loaded: the
	// configuration's own rules are not compiled.
	other, err := Compile(dockerProfile(t, "CAP_SYS_ADMIN"))
	if err != nil {
		t.Fatal(err)
	}
	if got := progOf(loadedFilter(t, "replay", cfg, other)); !bytes.HasSuffix(got, other) {
		t.Fatal("the armed program was not the one loaded")
	}
}
