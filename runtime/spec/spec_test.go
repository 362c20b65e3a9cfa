package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/sys/capability"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fakeRootfs makes a rootfs with an /etc/passwd and /etc/group.
func fakeRootfs(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	writeFile(t, filepath.Join(root, "etc/passwd"), `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
app:x:1000:1000:app:/home/app:/bin/sh
`)
	writeFile(t, filepath.Join(root, "etc/group"), `root:x:0:
wheel:x:10:root
www-data:x:33:
staff:x:50:app,www-data
app:x:1000:
docker:x:999:app
`)
	return root
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func image(entrypoint, cmd, env []string) dockerspec.DockerOCIImageConfig {
	return dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Entrypoint: entrypoint, Cmd: cmd, Env: env}}
}

func baseOpts(t *testing.T) Options {
	return Options{
		ID:             "0123456789abcdef0123",
		Rootfs:         fakeRootfs(t),
		Image:          image(nil, []string{"sh"}, nil),
		HostHardNofile: 20000,
	}
}

func TestArgs(t *testing.T) {
	tests := []struct {
		name          string
		imgEP, imgCmd []string
		ep            []string
		epSet         bool
		cmd           []string
		init          bool
		want          []string
		wantErr       string
	}{
		{name: "image cmd", imgCmd: []string{"sh", "-c", "echo"}, want: []string{"sh", "-c", "echo"}},
		{name: "user cmd replaces image cmd", imgCmd: []string{"sh"}, cmd: []string{"ls", "-l"}, want: []string{"ls", "-l"}},
		{name: "entrypoint + image cmd", imgEP: []string{"/entry.sh"}, imgCmd: []string{"serve"}, want: []string{"/entry.sh", "serve"}},
		{name: "entrypoint + user cmd", imgEP: []string{"/entry.sh"}, imgCmd: []string{"serve"}, cmd: []string{"debug", "x"}, want: []string{"/entry.sh", "debug", "x"}},
		{name: "entrypoint only", imgEP: []string{"/bin/app", "--flag"}, want: []string{"/bin/app", "--flag"}},
		{name: "--entrypoint drops image cmd", imgEP: []string{"/entry.sh"}, imgCmd: []string{"serve"}, ep: []string{"/bin/sh"}, epSet: true, want: []string{"/bin/sh"}},
		{name: "--entrypoint keeps user cmd", imgEP: []string{"/entry.sh"}, imgCmd: []string{"serve"}, ep: []string{"/bin/sh"}, epSet: true, cmd: []string{"-c", "id"}, want: []string{"/bin/sh", "-c", "id"}},
		{name: "--entrypoint '' with cmd", imgEP: []string{"/entry.sh"}, imgCmd: []string{"serve"}, ep: []string{""}, epSet: true, cmd: []string{"bash"}, want: []string{"bash"}},
		{name: "--entrypoint '' alone", imgEP: []string{"/entry.sh"}, imgCmd: []string{"serve"}, ep: []string{""}, epSet: true, wantErr: "no command specified"},
		{name: "--entrypoint nil alone", imgCmd: []string{"serve"}, epSet: true, wantErr: "no command specified"},
		{name: "nothing", wantErr: "no command specified"},
		{name: "empty user cmd keeps image cmd", imgCmd: []string{"top"}, cmd: []string{}, want: []string{"top"}},
		{name: "init", imgCmd: []string{"sleep", "1"}, init: true, want: []string{InitMountPath, "--", "sleep", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Image: image(tt.imgEP, tt.imgCmd, nil), Entrypoint: tt.ep, EntrypointSet: tt.epSet, Cmd: tt.cmd, Init: tt.init, InitPath: "/usr/libexec/ctrd-init"}
			got, err := Args(o)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("args = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		name     string
		tty      bool
		imageEnv []string
		userEnv  []string
		want     []string
	}{
		{name: "defaults", want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h"}},
		{name: "tty", tty: true, want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "TERM=xterm"}},
		{name: "image path replaces default",
			imageEnv: []string{"PATH=/opt/bin:/bin", "LANG=C.UTF-8"},
			want:     []string{"PATH=/opt/bin:/bin", "HOSTNAME=h", "LANG=C.UTF-8"}},
		{name: "user replaces image key in place and appends",
			imageEnv: []string{"A=1", "B=2"}, userEnv: []string{"B=3", "C=4", "A=5"},
			want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "A=5", "B=3", "C=4"}},
		{name: "user TERM overrides tty default", tty: true, userEnv: []string{"TERM=vt100"},
			want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "TERM=vt100"}},
		{name: "value with = and empty value", userEnv: []string{"X=a=b", "EMPTY="},
			want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "X=a=b", "EMPTY="}},
		{name: "bare key removes", imageEnv: []string{"SECRET=x", "KEEP=1"}, userEnv: []string{"SECRET", "NOPE"},
			want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "KEEP=1"}},
		{name: "duplicate user keys: last wins", userEnv: []string{"A=1", "A=2"},
			want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "A=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Tty: tt.tty, Image: image(nil, nil, tt.imageEnv), Env: tt.userEnv}
			got := buildEnv(o, "h")
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("env = %q\nwant  %q", got, tt.want)
			}
		})
	}
}

func TestResolveUser(t *testing.T) {
	root := fakeRootfs(t)
	tests := []struct {
		user     string
		uid, gid uint32
		gids     []uint32
		wantErr  string
	}{
		{user: "", uid: 0, gid: 0, gids: []uint32{0, 10}},
		{user: "root", uid: 0, gid: 0, gids: []uint32{0, 10}},
		{user: "app", uid: 1000, gid: 1000, gids: []uint32{1000, 50, 999}},
		{user: "1000", uid: 1000, gid: 1000, gids: []uint32{1000, 50, 999}},
		{user: "www-data", uid: 33, gid: 33, gids: []uint32{33, 50}},
		{user: "app:staff", uid: 1000, gid: 50, gids: []uint32{50}},
		{user: "app:33", uid: 1000, gid: 33, gids: []uint32{33}},
		{user: "1234", uid: 1234, gid: 0, gids: []uint32{0}},
		{user: "1234:5678", uid: 1234, gid: 5678, gids: []uint32{5678}},
		{user: "33:www-data", uid: 33, gid: 33, gids: []uint32{33}},
		{user: "nosuch", wantErr: "unable to find user nosuch: no matching entries in passwd file"},
		{user: "app:nogroup", wantErr: "unable to find group nogroup: no matching entries in group file"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			uid, gid, gids, err := ResolveUser(root, tt.user)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if uid != tt.uid || gid != tt.gid || !reflect.DeepEqual(gids, tt.gids) {
				t.Fatalf("got %d:%d %v, want %d:%d %v", uid, gid, gids, tt.uid, tt.gid, tt.gids)
			}
		})
	}
}

func TestResolveUserNoFiles(t *testing.T) {
	root := t.TempDir() // scratch image: no /etc at all
	uid, gid, gids, err := ResolveUser(root, "")
	if err != nil || uid != 0 || gid != 0 || !reflect.DeepEqual(gids, []uint32{0}) {
		t.Fatalf("root: %d %d %v %v", uid, gid, gids, err)
	}
	uid, gid, _, err = ResolveUser(root, "65534:65534")
	if err != nil || uid != 65534 || gid != 65534 {
		t.Fatalf("numeric: %d %d %v", uid, gid, err)
	}
	_, _, _, err = ResolveUser(root, "nobody")
	if err == nil || err.Error() != "unable to find user nobody: no matching entries in passwd file" {
		t.Fatalf("name without passwd: %v", err)
	}
}

// A hostile image makes /etc/passwd a symlink that, followed on the host,
// points at a file outside the rootfs. It must be resolved inside the rootfs.
func TestResolveUserHostileSymlink(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "rootfs")
	// The host file the attacker wants us to read.
	writeFile(t, filepath.Join(base, "outside/passwd"), "evil:x:666:666::/:/bin/sh\n")
	// What the same path means inside the rootfs.
	writeFile(t, filepath.Join(root, "outside/passwd"), "evil:x:1000:1000::/:/bin/sh\n")
	for _, target := range []string{"../../outside/passwd", filepath.Join(base, "outside/passwd")} {
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(root, "etc/passwd")
		os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		uid, _, _, err := ResolveUser(root, "evil")
		if target == "../../outside/passwd" {
			if err != nil || uid != 1000 {
				t.Fatalf("relative escape %q: uid %d err %v, want 1000 from inside the rootfs", target, uid, err)
			}
		} else {
			// The absolute host path does not exist inside the rootfs.
			if err == nil {
				t.Fatalf("absolute escape %q: resolved to uid %d, want not found", target, uid)
			}
			if uid == 666 {
				t.Fatal("read the host file")
			}
		}
	}
	// A symlinked /etc directory is confined too.
	os.RemoveAll(filepath.Join(root, "etc"))
	if err := os.Symlink("../../outside", filepath.Join(root, "etc")); err != nil {
		t.Fatal(err)
	}
	uid, _, _, err := ResolveUser(root, "evil")
	if err != nil || uid != 1000 {
		t.Fatalf("symlinked /etc: uid %d err %v", uid, err)
	}
	// A FIFO as /etc/passwd must not hang the daemon.
	os.Remove(filepath.Join(root, "etc"))
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	if err := unix.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := ResolveUser(root, "evil"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("fifo: %v", err)
	}
}

func TestCapabilities(t *testing.T) {
	all := allCapabilities()
	if len(all) < 30 {
		t.Fatalf("ALL has only %d caps", len(all))
	}
	tests := []struct {
		name       string
		add, drop  []string
		privileged bool
		want       []string
		wantErr    string
	}{
		{name: "default", want: defaultCaps},
		{name: "add short", add: []string{"NET_ADMIN"}, want: append(slices.Clone(defaultCaps), "CAP_NET_ADMIN")},
		{name: "add prefixed lowercase", add: []string{"cap_sys_ptrace"}, want: append(slices.Clone(defaultCaps), "CAP_SYS_PTRACE")},
		{name: "add existing is no dup", add: []string{"CHOWN"}, want: defaultCaps},
		{name: "drop", drop: []string{"NET_RAW", "CAP_MKNOD"},
			want: slices.DeleteFunc(slices.Clone(defaultCaps), func(c string) bool { return c == "CAP_NET_RAW" || c == "CAP_MKNOD" })},
		{name: "drop ALL add one", drop: []string{"ALL"}, add: []string{"NET_BIND_SERVICE"}, want: []string{"CAP_NET_BIND_SERVICE"}},
		{name: "drop ALL", drop: []string{"all"}, want: []string{}},
		{name: "add ALL drop one", add: []string{"ALL"}, drop: []string{"SYS_ADMIN"},
			want: slices.DeleteFunc(slices.Clone(all), func(c string) bool { return c == "CAP_SYS_ADMIN" })},
		{name: "privileged", privileged: true, drop: []string{"ALL"}, want: all},
		{name: "unknown", add: []string{"FLY"}, wantErr: `unknown capability: "CAP_FLY"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tweakCapabilities(defaultCaps, tt.add, tt.drop, tt.privileged)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("caps = %v\nwant   %v", got, tt.want)
			}
		})
	}
	if got := DefaultCapabilities(); len(got) != 14 || got[0] != "CAP_CHOWN" || got[13] != "CAP_AUDIT_WRITE" {
		t.Fatalf("DefaultCapabilities = %v", got)
	}
}

// ALL never includes a capability this process lacks (CAP_SYS_RESOURCE on the
// project's machines), since the container could not get it anyway.
func TestAllCapabilitiesWithinBoundingSet(t *testing.T) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	var bnd uint64
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			bnd = n
		}
	}
	for _, c := range allCapabilities() {
		n := capNumber(t, c)
		if bnd&(1<<n) == 0 {
			t.Errorf("ALL has %s which is not in the bounding set %x", c, bnd)
		}
	}
}

func TestGenerateDefaults(t *testing.T) {
	o := baseOpts(t)
	s, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Hostname != "0123456789ab" {
		t.Errorf("hostname = %q", s.Hostname)
	}
	p := s.Process
	if !reflect.DeepEqual(p.Args, []string{"sh"}) || p.Cwd != "/" || p.Terminal {
		t.Errorf("process = %+v", p)
	}
	if !slices.Contains(p.Env, "HOSTNAME=0123456789ab") || !slices.Contains(p.Env, "PATH="+DefaultPathEnv) {
		t.Errorf("env = %v", p.Env)
	}
	if p.User.UID != 0 || p.User.GID != 0 || !reflect.DeepEqual(p.User.AdditionalGids, []uint32{0, 10}) {
		t.Errorf("user = %+v", p.User)
	}
	if !reflect.DeepEqual(p.Capabilities.Bounding, defaultCaps) || !reflect.DeepEqual(p.Capabilities.Effective, defaultCaps) ||
		!reflect.DeepEqual(p.Capabilities.Permitted, defaultCaps) || p.Capabilities.Inheritable != nil || p.Capabilities.Ambient != nil {
		t.Errorf("caps = %+v", p.Capabilities)
	}
	if p.OOMScoreAdj == nil || *p.OOMScoreAdj != 0 {
		t.Errorf("oom score adj = %v", p.OOMScoreAdj)
	}
	if !reflect.DeepEqual(p.Rlimits, []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 20000, Hard: 20000}}) {
		t.Errorf("rlimits = %+v", p.Rlimits)
	}
	if s.Root.Path != o.Rootfs || s.Root.Readonly {
		t.Errorf("root = %+v", s.Root)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
	}
	wantDests := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"}
	if !reflect.DeepEqual(dests, wantDests) {
		t.Errorf("mounts = %v", dests)
	}
	if m := s.Mounts[2]; !slices.Contains(m.Options, "newinstance") || !slices.Contains(m.Options, "ptmxmode=0666") || !slices.Contains(m.Options, "gid=5") {
		t.Errorf("devpts = %+v", m)
	}
	if m := s.Mounts[6]; !slices.Contains(m.Options, "size=65536k") {
		t.Errorf("shm = %+v", m)
	}
	if !slices.Contains(s.Mounts[3].Options, "ro") || !slices.Contains(s.Mounts[4].Options, "ro") {
		t.Errorf("/sys mounts not read-only")
	}
	l := s.Linux
	var nsTypes []specs.LinuxNamespaceType
	for _, n := range l.Namespaces {
		nsTypes = append(nsTypes, n.Type)
		if n.Path != "" {
			t.Errorf("namespace %s has path %q", n.Type, n.Path)
		}
	}
	for _, want := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.MountNamespace, specs.UTSNamespace, specs.IPCNamespace, specs.NetworkNamespace} {
		if !slices.Contains(nsTypes, want) {
			t.Errorf("missing namespace %s", want)
		}
	}
	for _, want := range []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"} {
		if !slices.Contains(l.MaskedPaths, want) {
			t.Errorf("missing masked path %s", want)
		}
	}
	if !reflect.DeepEqual(l.ReadonlyPaths, []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
		t.Errorf("readonly paths = %v", l.ReadonlyPaths)
	}
	if l.CgroupsPath != "/ctrd/"+o.ID {
		t.Errorf("cgroups path = %q", l.CgroupsPath)
	}
	if len(l.Devices) != 0 {
		t.Errorf("devices = %v (the default ones are implicit)", l.Devices)
	}
	rules := l.Resources.Devices
	if len(rules) == 0 || rules[0].Allow || rules[0].Access != "rwm" || rules[0].Type != "" {
		t.Errorf("first device rule must deny all: %+v", rules)
	}
	for _, d := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}} {
		if !deviceAllowed(rules, d[0], d[1]) {
			t.Errorf("device %d:%d not allowed", d[0], d[1])
		}
	}
	if deviceAllowed(rules, 8, 0) {
		t.Errorf("block/char 8:0 allowed")
	}
	if l.Seccomp == nil || l.Seccomp.DefaultAction != specs.ActErrno || len(l.Seccomp.Syscalls) == 0 {
		t.Fatalf("seccomp = %+v", l.Seccomp)
	}
	if l.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" || l.Sysctl["net.ipv4.ping_group_range"] != "0 2147483647" {
		t.Errorf("sysctl = %v", l.Sysctl)
	}
	if l.Resources.Memory != nil || l.Resources.CPU != nil || l.Resources.Pids != nil {
		t.Errorf("resources = %+v", l.Resources)
	}
	// The spec must survive a JSON round trip unchanged (it is stored as config.json).
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back specs.Spec
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	data2, err := json.Marshal(&back)
	if err != nil || string(data2) != string(data) {
		t.Errorf("JSON round trip changed the spec: %v", err)
	}
}

func deviceAllowed(rules []specs.LinuxDeviceCgroup, major, minor int64) bool {
	allowed := false
	for _, r := range rules {
		if r.Type != "" && r.Type != "a" && r.Type != "c" {
			continue
		}
		if r.Major != nil && *r.Major != major || r.Minor != nil && *r.Minor != minor {
			continue
		}
		if !strings.Contains(r.Access, "r") {
			continue
		}
		allowed = r.Allow
	}
	return allowed
}

// syscallAllowed reports whether the converted seccomp profile allows name
// unconditionally.
func syscallAllowed(sc *specs.LinuxSeccomp, name string) bool {
	for _, r := range sc.Syscalls {
		if r.Action == specs.ActAllow && len(r.Args) == 0 && slices.Contains(r.Names, name) {
			return true
		}
	}
	return false
}

func TestSeccompFollowsCapabilities(t *testing.T) {
	o := baseOpts(t)
	s, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if !syscallAllowed(s.Linux.Seccomp, "read") {
		t.Fatal("read not allowed by the default profile")
	}
	if syscallAllowed(s.Linux.Seccomp, "mount") {
		t.Fatal("mount allowed without CAP_SYS_ADMIN")
	}
	o.CapAdd = []string{"SYS_ADMIN"}
	s, err = Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if !syscallAllowed(s.Linux.Seccomp, "mount") {
		t.Fatal("mount not allowed with CAP_SYS_ADMIN")
	}
	o.CapAdd = nil
	o.SeccompUnconfined = true
	if s, err = Generate(o); err != nil || s.Linux.Seccomp != nil {
		t.Fatalf("unconfined: %v %v", err, s.Linux.Seccomp)
	}
}

func TestGeneratePrivileged(t *testing.T) {
	hostDevices = func() ([]specs.LinuxDevice, error) {
		return []specs.LinuxDevice{{Path: "/dev/loop0", Type: "b", Major: 7, Minor: 0}}, nil
	}
	t.Cleanup(func() { hostDevices = func() ([]specs.LinuxDevice, error) { return listDevices("/dev") } })
	o := baseOpts(t)
	o.Privileged = true
	o.CapDrop = []string{"ALL"}
	s, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Seccomp != nil || len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("privileged has seccomp/masks: %v %v %v", s.Linux.Seccomp != nil, s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if !reflect.DeepEqual(s.Process.Capabilities.Bounding, allCapabilities()) {
		t.Errorf("caps = %v", s.Process.Capabilities.Bounding)
	}
	if !reflect.DeepEqual(s.Linux.Resources.Devices, []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}) {
		t.Errorf("device rules = %+v", s.Linux.Resources.Devices)
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/loop0" {
		t.Errorf("devices = %+v", s.Linux.Devices)
	}
	for _, m := range s.Mounts {
		if (m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup") && slices.Contains(m.Options, "ro") {
			t.Errorf("%s read-only when privileged", m.Destination)
		}
	}
}

func TestListDevices(t *testing.T) {
	devs, err := listDevices("/dev")
	if err != nil {
		t.Fatal(err)
	}
	var null *specs.LinuxDevice
	for i, d := range devs {
		if d.Path == "/dev/null" {
			null = &devs[i]
		}
		if strings.HasPrefix(d.Path, "/dev/pts/") || d.Path == "/dev/console" || d.Path == "/dev/ptmx" {
			t.Errorf("listed %s", d.Path)
		}
	}
	if null == nil || null.Type != "c" || null.Major != 1 || null.Minor != 3 || *null.FileMode != 0o666 {
		t.Fatalf("/dev/null = %+v", null)
	}
}

func TestNonRootCapabilities(t *testing.T) {
	o := baseOpts(t)
	o.User = "app"
	s, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Process.Capabilities
	if !reflect.DeepEqual(c.Bounding, defaultCaps) || c.Effective != nil || c.Permitted != nil {
		t.Fatalf("caps for non-root = %+v", c)
	}
	if s.Process.User.UID != 1000 || s.Process.User.GID != 1000 {
		t.Fatalf("user = %+v", s.Process.User)
	}
	// The image's USER is used when the run gives none.
	o.User = ""
	o.Image.User = "www-data"
	if s, err = Generate(o); err != nil || s.Process.User.UID != 33 {
		t.Fatalf("image user: %v %+v", err, s.Process.User)
	}
	o.User = "nosuch"
	if _, err = Generate(o); err == nil || err.Error() != "unable to find user nosuch: no matching entries in passwd file" {
		t.Fatalf("err = %v", err)
	}
}

func TestRlimits(t *testing.T) {
	hard := map[int]uint64{unix.RLIMIT_NOFILE: 20000, unix.RLIMIT_NPROC: 4096, unix.RLIMIT_CORE: unix.RLIM_INFINITY}
	old := hostHardLimit
	hostHardLimit = func(r int) (uint64, bool) { v, ok := hard[r]; return v, ok }
	t.Cleanup(func() { hostHardLimit = old })

	tests := []struct {
		name    string
		host    uint64
		user    []specs.POSIXRlimit
		want    []specs.POSIXRlimit
		wantErr string
	}{
		{name: "default clamped by getrlimit", want: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 20000, Hard: 20000}}},
		{name: "default clamped by option", host: 4096, want: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 4096, Hard: 4096}}},
		{name: "host above default", host: 1 << 30, want: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: DefaultNofile, Hard: DefaultNofile}}},
		{name: "user nofile below", user: []specs.POSIXRlimit{{Type: "nofile", Soft: 1024, Hard: 2048}},
			want: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}}},
		{name: "user nofile above host", user: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 30000, Hard: 50000}},
			want: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 20000, Hard: 20000}}},
		{name: "soft kept under clamped hard", user: []specs.POSIXRlimit{{Type: "NOFILE", Soft: 10000, Hard: 50000}},
			want: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10000, Hard: 20000}}},
		{name: "other types", user: []specs.POSIXRlimit{{Type: "nproc", Soft: 10000, Hard: 10000}, {Type: "core", Soft: 0, Hard: unix.RLIM_INFINITY}},
			want: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 20000, Hard: 20000}, {Type: "RLIMIT_NPROC", Soft: 4096, Hard: 4096}, {Type: "RLIMIT_CORE", Soft: 0, Hard: unix.RLIM_INFINITY}}},
		{name: "soft above hard", user: []specs.POSIXRlimit{{Type: "nofile", Soft: 10, Hard: 5}}, wantErr: "ulimit nofile: soft limit 10 is greater than hard limit 5"},
		{name: "unknown", user: []specs.POSIXRlimit{{Type: "bogus", Soft: 1, Hard: 1}}, wantErr: `unknown ulimit type "bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := buildRlimits(tt.user, tt.host)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("rlimits = %+v\nwant      %+v", got, tt.want)
			}
		})
	}
}

// With the real getrlimit, Docker's 1048576 never reaches the spec here.
func TestRlimitsRealHost(t *testing.T) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	got, err := buildRlimits(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Hard > rl.Max || got[0].Hard != min(DefaultNofile, rl.Max) {
		t.Fatalf("nofile %+v, host hard %d", got[0], rl.Max)
	}
}

func TestResources(t *testing.T) {
	tests := []struct {
		name                  string
		mem, swap, pids, nano int64
		wantMem, wantSwap     int64 // 0 = no memory section
		wantPids              int64
		wantQuota             int64
		wantErr               string
	}{
		{name: "none"},
		{name: "memory, default swap", mem: 512 << 20, wantMem: 512 << 20, wantSwap: 1024 << 20},
		{name: "memory and swap", mem: 512 << 20, swap: 768 << 20, wantMem: 512 << 20, wantSwap: 768 << 20},
		{name: "unlimited swap", mem: 512 << 20, swap: -1, wantMem: 512 << 20, wantSwap: -1},
		{name: "swap equal memory", mem: 64 << 20, swap: 64 << 20, wantMem: 64 << 20, wantSwap: 64 << 20},
		{name: "too small", mem: 1 << 20, wantErr: "Minimum memory limit allowed is 6MB"},
		{name: "swap without memory", swap: 1 << 30, wantErr: "You should always set the Memory limit when using Memoryswap limit, see usage"},
		{name: "swap below memory", mem: 1 << 30, swap: 512 << 20, wantErr: "Minimum memoryswap limit should be larger than memory limit, see usage"},
		{name: "pids", pids: 100, wantPids: 100},
		{name: "pids unlimited", pids: -1},
		{name: "cpus 1.5", nano: 1.5e9, wantQuota: 150000},
		{name: "cpus 0.5", nano: 5e8, wantQuota: 50000},
		{name: "cpus 0.01", nano: 1e7, wantQuota: 1000},
		{name: "cpus too few", nano: 1e6, wantErr: "range of CPUs"},
		{name: "cpus too many", nano: 1e15, wantErr: "range of CPUs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := buildResources(Options{Memory: tt.mem, MemorySwap: tt.swap, PidsLimit: tt.pids, NanoCPUs: tt.nano})
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantMem == 0 {
				if r.Memory != nil {
					t.Errorf("memory = %+v", r.Memory)
				}
			} else if r.Memory == nil || *r.Memory.Limit != tt.wantMem || *r.Memory.Swap != tt.wantSwap {
				t.Errorf("memory = %+v", r.Memory)
			}
			if tt.wantPids == 0 {
				if r.Pids != nil {
					t.Errorf("pids = %+v", r.Pids)
				}
			} else if r.Pids == nil || *r.Pids.Limit != tt.wantPids {
				t.Errorf("pids = %+v", r.Pids)
			}
			if tt.wantQuota == 0 {
				if r.CPU != nil {
					t.Errorf("cpu = %+v", r.CPU)
				}
			} else if r.CPU == nil || *r.CPU.Quota != tt.wantQuota || *r.CPU.Period != CPUPeriod {
				t.Errorf("cpu = %+v", r.CPU)
			}
		})
	}
}

func TestNetworkNamespace(t *testing.T) {
	for _, tt := range []struct {
		netns    string
		wantNS   bool
		wantPath string
	}{
		{netns: "", wantNS: true},
		{netns: "host", wantNS: false},
		{netns: "/run/ctrd/netns/abc", wantNS: true, wantPath: "/run/ctrd/netns/abc"},
	} {
		o := baseOpts(t)
		o.NetNSPath = tt.netns
		s, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		var found *specs.LinuxNamespace
		for i, n := range s.Linux.Namespaces {
			if n.Type == specs.NetworkNamespace {
				found = &s.Linux.Namespaces[i]
			}
		}
		if (found != nil) != tt.wantNS || found != nil && found.Path != tt.wantPath {
			t.Errorf("netns %q: got %+v", tt.netns, found)
		}
		if tt.netns == "host" {
			if len(s.Linux.Sysctl) != 0 {
				t.Errorf("host netns with net sysctls %v", s.Linux.Sysctl)
			}
			if h, _ := os.Hostname(); s.Hostname != h {
				t.Errorf("host network hostname = %q, want %q", s.Hostname, h)
			}
		}
	}
}

func TestMountsAndOptions(t *testing.T) {
	o := baseOpts(t)
	o.Hostname, o.Domainname = "web", "example.org"
	o.Mounts = []specs.Mount{
		{Destination: "/data/sub", Type: "bind", Source: "/srv/b", Options: []string{"rbind"}},
		{Destination: "/data", Type: "bind", Source: "/srv/a", Options: []string{"rbind"}},
		{Destination: "/dev/shm", Type: "bind", Source: "/srv/shm", Options: []string{"rbind"}},
		{Destination: "/etc/hosts", Type: "bind", Source: "/run/ctrd/x/hosts", Options: []string{"rbind", "ro"}},
	}
	o.Init, o.InitPath = true, "/usr/libexec/ctrd/init"
	o.ReadonlyRootfs, o.NoNewPrivileges, o.Tty = true, true, true
	o.WorkingDir = "/srv//app/"
	o.CgroupsPath = "/custom/x"
	s, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
	}
	want := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/data", "/data/sub", "/dev/shm", "/etc/hosts", InitMountPath}
	if !reflect.DeepEqual(dests, want) {
		t.Errorf("mounts = %v\nwant     %v", dests, want)
	}
	if m := s.Mounts[len(s.Mounts)-1]; m.Source != o.InitPath || !slices.Contains(m.Options, "ro") {
		t.Errorf("init mount = %+v", m)
	}
	if s.Process.Args[0] != InitMountPath || s.Process.Args[1] != "--" || s.Process.Args[2] != "sh" {
		t.Errorf("args = %v", s.Process.Args)
	}
	if !s.Root.Readonly || !s.Process.NoNewPrivileges || !s.Process.Terminal || s.Process.Cwd != "/srv/app" {
		t.Errorf("root %+v nnp %v tty %v cwd %q", s.Root, s.Process.NoNewPrivileges, s.Process.Terminal, s.Process.Cwd)
	}
	if !slices.Contains(s.Process.Env, "TERM=xterm") || !slices.Contains(s.Process.Env, "HOSTNAME=web") {
		t.Errorf("env = %v", s.Process.Env)
	}
	if s.Hostname != "web" || s.Domainname != "example.org" || s.Linux.CgroupsPath != "/custom/x" {
		t.Errorf("hostname %q domain %q cgroup %q", s.Hostname, s.Domainname, s.Linux.CgroupsPath)
	}

	// A user /dev replaces every default mount under /dev.
	o.Mounts = []specs.Mount{{Destination: "/dev", Type: "bind", Source: "/dev", Options: []string{"rbind"}}}
	o.Init = false
	s, err = Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	dests = nil
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
	}
	if !reflect.DeepEqual(dests, []string{"/proc", "/sys", "/sys/fs/cgroup", "/dev"}) {
		t.Errorf("mounts with user /dev = %v", dests)
	}
}

func TestWorkingDir(t *testing.T) {
	for _, tt := range []struct{ image, user, want, err string }{
		{want: "/"},
		{image: "/app", want: "/app"},
		{image: "app", want: "/app"},
		{image: "/app", user: "/other", want: "/other"},
		{user: "rel", err: "the working directory 'rel' is invalid, it needs to be an absolute path"},
	} {
		o := Options{WorkingDir: tt.user}
		o.Image.WorkingDir = tt.image
		got, err := workingDir(o)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%+v: err %v", tt, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%+v: got %q %v", tt, got, err)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	o := baseOpts(t)
	o.Image = image(nil, nil, nil)
	if _, err := Generate(o); err != ErrNoCommand {
		t.Errorf("no command: %v", err)
	}
	o = baseOpts(t)
	o.Rootfs = ""
	if _, err := Generate(o); err == nil {
		t.Error("no rootfs: no error")
	}
	o = baseOpts(t)
	o.CapAdd = []string{"NOPE"}
	if _, err := Generate(o); err == nil || !strings.Contains(err.Error(), "unknown capability") {
		t.Errorf("bad cap: %v", err)
	}
	o = baseOpts(t)
	o.Init = true
	if _, err := Generate(o); err == nil {
		t.Error("init without path: no error")
	}
}

func TestParseSignal(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want syscall.Signal
	}{
		{"TERM", syscall.SIGTERM}, {"SIGTERM", syscall.SIGTERM}, {"sigterm", syscall.SIGTERM}, {"term", syscall.SIGTERM},
		{"15", syscall.SIGTERM}, {"9", syscall.SIGKILL}, {"HUP", syscall.SIGHUP}, {"SIGKILL", syscall.SIGKILL},
		{"USR1", syscall.SIGUSR1}, {"SIGWINCH", syscall.SIGWINCH}, {"IOT", syscall.SIGABRT}, {"CLD", syscall.SIGCHLD},
		{"RTMIN", 34}, {"SIGRTMIN+3", 37}, {"RTMAX", 64}, {"RTMAX-2", 62}, {" INT ", syscall.SIGINT}, {"64", 64},
	} {
		got, err := ParseSignal(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "0", "65", "-1", "FOO", "SIG", "SIGFOO", "RTMIN+40", "RTMAX+1", "RTMIN-1", "RTMIN+", "1.5", "TERM2"} {
		if sig, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) = %v, want error", bad, sig)
		} else if !strings.HasPrefix(err.Error(), "invalid signal") {
			t.Errorf("ParseSignal(%q) error %q", bad, err)
		}
	}
}

func capNumber(t *testing.T, name string) uint {
	t.Helper()
	for _, c := range capability.ListKnown() {
		if "CAP_"+strings.ToUpper(c.String()) == name {
			return uint(c)
		}
	}
	t.Fatalf("unknown cap %s", name)
	return 0
}

func TestX32Detection(t *testing.T) {
	for _, c := range []struct {
		config  string
		has, ok bool
	}{
		{"CONFIG_64BIT=y\nCONFIG_X86_X32_ABI=y\n", true, true},
		{"CONFIG_64BIT=y\n# CONFIG_X86_X32_ABI is not set\n", false, true},
		{"CONFIG_X86_X32=y\n", true, true},
		{"CONFIG_64BIT=y\n", false, false},
	} {
		if has, ok := configHasX32(strings.NewReader(c.config)); has != c.has || ok != c.ok {
			t.Errorf("config %q: %v %v, want %v %v", c.config, has, ok, c.has, c.ok)
		}
	}
	for _, c := range []struct {
		syms    string
		has, ok bool
	}{
		{"0000000000000000 T ia32_sys_call\n0000000000000000 T x32_sys_call\n", true, true},
		{"0000000000000000 R x32_sys_call_table\n", true, true},
		{"0000000000000000 T ia32_sys_call\n0000000000000000 T get_old_timex32\n", false, true},
		{"", false, false},
	} {
		if has, ok := kallsymsHaveX32(strings.NewReader(c.syms)); has != c.has || ok != c.ok {
			t.Errorf("kallsyms %q: %v %v, want %v %v", c.syms, has, ok, c.has, c.ok)
		}
	}
}

// DefaultSeccomp is the profile of a container generated with the default
// capabilities (ctrd compiles it ahead for them).
func TestDefaultSeccompIsGenerated(t *testing.T) {
	s, err := Generate(baseOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	def, err := DefaultSeccomp()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Linux.Seccomp, def) {
		t.Error("DefaultSeccomp differs from the profile of a generated spec with default capabilities")
	}
	o := baseOpts(t)
	o.CapAdd = []string{"SYS_ADMIN"}
	if s, err := Generate(o); err != nil || reflect.DeepEqual(s.Linux.Seccomp, def) {
		t.Errorf("with CAP_SYS_ADMIN: same profile as the default (%v)", err)
	}
}

// The default profile keeps the native and i386 ABIs, and x32 exactly
// when the kernel has it.
func TestDefaultSeccompArchitectures(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("amd64 only")
	}
	sc, err := defaultSeccomp(&specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sc.Architectures, specs.ArchX86_64) || !slices.Contains(sc.Architectures, specs.ArchX86) {
		t.Errorf("architectures %v lack x86_64 or x86", sc.Architectures)
	}
	if got := slices.Contains(sc.Architectures, specs.ArchX32); got != kernelHasX32() {
		t.Errorf("x32 in profile: %v, kernel has x32: %v", got, kernelHasX32())
	}
	if len(sc.Syscalls) < 10 {
		t.Errorf("profile has %d rules", len(sc.Syscalls))
	}
}
