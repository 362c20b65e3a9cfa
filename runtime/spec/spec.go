// Package spec builds the OCI runtime spec of a container from its image
// config and run options, with Docker's defaults (mounts, capabilities,
// masked paths, device rules, seccomp profile, environment...).
package spec

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	// DefaultPathEnv is the PATH a container gets when its image sets none.
	DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// InitMountPath is where Options.InitPath is bind-mounted (read-only) in
	// the container when Options.Init is set. It lives on the container's
	// /dev tmpfs, so it works with read-only and scratch rootfs alike and
	// leaves nothing in the container's writable layer.
	InitMountPath = "/dev/init"
	// NetNSHost in Options.NetNSPath shares the host's network namespace.
	NetNSHost = "host"
	// CPUPeriod is the CFS period used with NanoCPUs (µs).
	CPUPeriod = 100000
	// minMemory is Docker's lowest accepted memory limit.
	minMemory = 6 * 1024 * 1024
	// shmSize is Docker's default /dev/shm size.
	shmSize = "65536k"
)

// Options is everything Generate needs about one container.
type Options struct {
	ID, Hostname, Domainname string
	// Rootfs is the host path of the container's mounted rootfs; users and
	// groups are resolved in its /etc/passwd and /etc/group.
	Rootfs string
	Image  dockerspec.DockerOCIImageConfig

	// Cmd holds the user's args after the image name (nil: image Cmd).
	Cmd []string
	// Entrypoint replaces the image's when EntrypointSet (--entrypoint);
	// nil, empty or [""] clears it. Either way the image Cmd is then dropped
	// unless the user gave a Cmd.
	Entrypoint    []string
	EntrypointSet bool
	// Env is applied over the image's Env: a same key replaces, "KEY" with
	// no "=" removes KEY.
	Env []string
	// WorkingDir and User override the image's when non-empty. User is
	// "name", "uid", "uid:gid", "name:group"...
	WorkingDir, User string

	Tty, OpenStdin bool

	Privileged        bool
	CapAdd, CapDrop   []string // "NET_ADMIN", "CAP_NET_ADMIN", "ALL"
	NoNewPrivileges   bool
	ReadonlyRootfs    bool
	Memory            int64 // bytes; 0 = unlimited
	MemorySwap        int64 // memory+swap bytes; 0 = twice Memory, -1 = unlimited
	PidsLimit         int64 // <= 0 = unlimited
	NanoCPUs          int64 // --cpus 1.5 = 1.5e9
	CgroupsPath       string
	NetNSPath         string        // "" = new netns, "host" = host's, else a netns path to join
	Mounts            []specs.Mount // volumes, /etc/hosts, resolv.conf...
	Init              bool          // run InitPath as pid 1 in front of the command
	InitPath          string        // host path of a static init (tini-like: "init -- cmd args")
	StopSignal        string        // not part of the spec; ignored here
	Ulimits           []specs.POSIXRlimit
	HostHardNofile    uint64 // 0 = getrlimit; no rlimit ever exceeds the host's hard limit
	SeccompUnconfined bool   // --security-opt seccomp=unconfined
}

// ErrNoCommand is returned when neither the image nor the user gives a command.
var ErrNoCommand = errors.New("no command specified")

// Generate builds the OCI runtime spec for o.
func Generate(o Options) (*specs.Spec, error) {
	if o.Rootfs == "" {
		return nil, errors.New("spec: rootfs path is required")
	}
	args, err := Args(o)
	if err != nil {
		return nil, err
	}
	cwd, err := workingDir(o)
	if err != nil {
		return nil, err
	}
	hostname := o.Hostname
	if hostname == "" {
		if o.NetNSPath == NetNSHost {
			hostname, _ = os.Hostname()
		} else {
			hostname = shortID(o.ID)
		}
	}

	userSpec := o.User
	if userSpec == "" {
		userSpec = o.Image.User
	}
	uid, gid, gids, err := ResolveUser(o.Rootfs, userSpec)
	if err != nil {
		return nil, err
	}

	caps, err := tweakCapabilities(defaultCaps, o.CapAdd, o.CapDrop, o.Privileged)
	if err != nil {
		return nil, err
	}
	rlimits, err := buildRlimits(o.Ulimits, o.HostHardNofile)
	if err != nil {
		return nil, err
	}
	resources, err := buildResources(o)
	if err != nil {
		return nil, err
	}

	oomScoreAdj := 0
	s := &specs.Spec{
		Version:    specs.Version,
		Hostname:   hostname,
		Domainname: o.Domainname,
		Root: &specs.Root{
			Path:     o.Rootfs,
			Readonly: o.ReadonlyRootfs,
		},
		Process: &specs.Process{
			Terminal: o.Tty,
			User: specs.User{
				UID:            uid,
				GID:            gid,
				AdditionalGids: gids,
			},
			Args:            args,
			Env:             buildEnv(o, hostname),
			Cwd:             cwd,
			Rlimits:         rlimits,
			NoNewPrivileges: o.NoNewPrivileges,
			OOMScoreAdj:     &oomScoreAdj,
		},
		Mounts: buildMounts(o),
		Linux: &specs.Linux{
			CgroupsPath: o.CgroupsPath,
			Namespaces:  namespaces(o.NetNSPath),
			Resources:   resources,
			Devices:     []specs.LinuxDevice{},
		},
	}
	if s.Linux.CgroupsPath == "" && o.ID != "" {
		s.Linux.CgroupsPath = "/ctrd/" + o.ID
	}
	// Capabilities as Docker sets them: root gets them effective and
	// permitted; another user only gets the bounding set (as execve would).
	if uid == 0 {
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding:  caps,
			Effective: slices.Clone(caps),
			Permitted: slices.Clone(caps),
		}
	} else {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps}
	}

	if o.NetNSPath != NetNSHost {
		// Docker's defaults for a container with its own network stack:
		// binding low ports and ping need no privilege inside it.
		s.Linux.Sysctl = map[string]string{
			"net.ipv4.ip_unprivileged_port_start": "0",
			"net.ipv4.ping_group_range":           "0 2147483647",
		}
	}

	if o.Privileged {
		devs, err := hostDevices()
		if err != nil {
			return nil, fmt.Errorf("privileged: list host devices: %w", err)
		}
		s.Linux.Devices = devs
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	} else {
		s.Linux.MaskedPaths = slices.Clone(maskedPaths)
		s.Linux.ReadonlyPaths = slices.Clone(readonlyPaths)
		s.Linux.Resources.Devices = defaultDeviceRules()
		if !o.SeccompUnconfined {
			sc, err := defaultSeccomp(s)
			if err != nil {
				return nil, fmt.Errorf("default seccomp profile: %w", err)
			}
			s.Linux.Seccomp = sc
		}
	}
	return s, nil
}

// Args returns the process args: entrypoint + cmd, with Docker's rules for
// what the user's --entrypoint and command replace.
func Args(o Options) ([]string, error) {
	var entrypoint, cmd []string
	if o.EntrypointSet {
		entrypoint = o.Entrypoint
		if len(entrypoint) == 1 && entrypoint[0] == "" {
			entrypoint = nil
		}
		cmd = o.Cmd // the image Cmd is dropped with a new entrypoint
	} else {
		entrypoint = o.Image.Entrypoint
		cmd = o.Cmd
		if len(cmd) == 0 {
			cmd = o.Image.Cmd
		}
	}
	args := make([]string, 0, len(entrypoint)+len(cmd)+2)
	args = append(args, entrypoint...)
	args = append(args, cmd...)
	if len(args) == 0 || args[0] == "" {
		return nil, ErrNoCommand
	}
	if o.Init {
		if o.InitPath == "" {
			return nil, errors.New("--init: no init binary configured")
		}
		args = append([]string{InitMountPath, "--"}, args...)
	}
	return args, nil
}

// buildEnv returns the container's environment: PATH (Docker's default unless
// the image sets one), HOSTNAME, TERM=xterm with a tty, then the image's Env,
// then the user's, each key given once (a later one replaces an earlier one in
// place; a bare "KEY" removes it).
func buildEnv(o Options, hostname string) []string {
	env := []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + hostname}
	if o.Tty {
		env = append(env, "TERM=xterm")
	}
	env = mergeEnv(env, o.Image.Env)
	return mergeEnv(env, o.Env)
}

func mergeEnv(base, over []string) []string {
	idx := make(map[string]int, len(base)+len(over))
	for i, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	removed := false
	for _, kv := range over {
		k, _, hasValue := strings.Cut(kv, "=")
		if k == "" {
			continue
		}
		i, ok := idx[k]
		switch {
		case !hasValue:
			if ok && base[i] != "" {
				base[i] = "" // marks removal
				removed = true
			}
		case ok:
			base[i] = kv
		default:
			idx[k] = len(base)
			base = append(base, kv)
		}
	}
	if removed {
		base = slices.DeleteFunc(base, func(s string) bool { return s == "" })
	}
	return base
}

func workingDir(o Options) (string, error) {
	wd := o.WorkingDir
	if wd == "" {
		wd = o.Image.WorkingDir
		if wd != "" && !path.IsAbs(wd) {
			wd = "/" + wd // image configs are trusted to mean root-relative
		}
	}
	if wd == "" {
		return "/", nil
	}
	if !path.IsAbs(wd) {
		return "", fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path", wd)
	}
	return path.Clean(wd), nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func namespaces(netns string) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{
		{Type: specs.MountNamespace},
	}
	switch netns {
	case NetNSHost:
	case "":
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	default:
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netns})
	}
	return append(ns,
		specs.LinuxNamespace{Type: specs.UTSNamespace},
		specs.LinuxNamespace{Type: specs.PIDNamespace},
		specs.LinuxNamespace{Type: specs.IPCNamespace},
	)
}

var maskedPaths = []string{
	"/proc/asound",
	"/proc/acpi",
	"/proc/interrupts",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

func defaultMounts(privileged bool) []specs.Mount {
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	cgOpts := []string{"ro", "nosuid", "noexec", "nodev"}
	if privileged { // Docker: /sys and the cgroup fs are writable when privileged
		sysOpts = []string{"nosuid", "noexec", "nodev", "rw"}
		cgOpts = []string{"rw", "nosuid", "noexec", "nodev"}
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: cgOpts},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + shmSize}},
	}
}

// buildMounts returns Docker's default mounts minus those a user mount
// replaces (same destination, or anything under /dev when the user mounts
// /dev), then the user's mounts (parents before children), then the init.
func buildMounts(o Options) []specs.Mount {
	user := slices.Clone(o.Mounts)
	dests := make(map[string]bool, len(user))
	for _, m := range user {
		dests[filepath.Clean(m.Destination)] = true
	}
	var out []specs.Mount
	for _, m := range defaultMounts(o.Privileged) {
		if dests[m.Destination] {
			continue
		}
		if dests["/dev"] && strings.HasPrefix(m.Destination, "/dev/") {
			continue
		}
		out = append(out, m)
	}
	slices.SortStableFunc(user, func(a, b specs.Mount) int {
		return pathDepth(a.Destination) - pathDepth(b.Destination)
	})
	out = append(out, user...)
	if o.Init && o.InitPath != "" {
		out = append(out, specs.Mount{
			Destination: InitMountPath,
			Type:        "bind",
			Source:      o.InitPath,
			Options:     []string{"bind", "ro", "nosuid", "nodev"},
		})
	}
	return out
}

func pathDepth(p string) int {
	p = filepath.Clean(p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

func i64(v int64) *int64 { return &v }

// defaultDeviceRules is the device cgroup: deny everything, then allow the
// standard devices (null zero full random urandom tty console ptmx pts/*) and
// mknod of any device node (runc adds that anyway).
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	allow := func(major, minor int64) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(major), Access: "rwm"}
		if minor >= 0 {
			r.Minor = i64(minor)
		}
		return r
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Access: "m"},
		{Allow: true, Type: "b", Access: "m"},
		allow(1, 3),    // null
		allow(1, 5),    // zero
		allow(1, 7),    // full
		allow(1, 8),    // random
		allow(1, 9),    // urandom
		allow(5, 0),    // tty
		allow(5, 1),    // console
		allow(5, 2),    // ptmx
		allow(136, -1), // pts/*
	}
}

func buildResources(o Options) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if o.Memory < 0 || o.MemorySwap < -1 {
		return nil, errors.New("invalid memory limit")
	}
	if o.Memory > 0 && o.Memory < minMemory {
		return nil, errors.New("Minimum memory limit allowed is 6MB")
	}
	if o.MemorySwap > 0 && o.Memory == 0 {
		return nil, errors.New("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if o.MemorySwap > 0 && o.MemorySwap < o.Memory {
		return nil, errors.New("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if o.Memory > 0 {
		swap := o.MemorySwap
		if swap == 0 {
			swap = 2 * o.Memory // Docker: as much swap as memory
		}
		r.Memory = &specs.LinuxMemory{Limit: i64(o.Memory), Swap: i64(swap)}
	}
	if o.PidsLimit > 0 {
		r.Pids = &specs.LinuxPids{Limit: i64(o.PidsLimit)}
	}
	if o.NanoCPUs != 0 {
		ncpu := int64(runtime.NumCPU())
		if o.NanoCPUs < 0 || o.NanoCPUs > ncpu*1e9 {
			return nil, fmt.Errorf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu)
		}
		quota := o.NanoCPUs * CPUPeriod / 1e9
		if quota < 1000 { // the kernel's minimum quota is 1ms
			return nil, fmt.Errorf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu)
		}
		period := uint64(CPUPeriod)
		r.CPU = &specs.LinuxCPU{Quota: i64(quota), Period: &period}
	}
	return r, nil
}
