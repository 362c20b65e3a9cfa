package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/images"
	"github.com/ctrd/ctrd/images/reference"
	"github.com/ctrd/ctrd/restart"
	"github.com/ctrd/ctrd/runtime/spec"
	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"
)

// createContainer validates a create request completely, then records the
// container and prepares its writable layer. Any failure leaves nothing.
func (d *Daemon) createContainer(ctx context.Context, name string, cc types.CreateConfig) (_ *container, warnings []string, retErr error) {
	if name != "" && !validName.MatchString(name) {
		return nil, nil, errdefs.InvalidArgument(fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name))
	}
	name = strings.TrimPrefix(name, "/")
	imageName := cc.Config.Image
	img, err := d.images.Resolve(imageName)
	if err != nil {
		if errdefs.IsNotFound(err) {
			shown := imageName
			if r, perr := reference.Parse(imageName); perr == nil {
				shown = r.Familiar()
			}
			return nil, nil, errdefs.NotFound(fmt.Errorf("Unable to find image '%s' locally", shown))
		}
		return nil, nil, err
	}
	icfg, err := d.images.Config(img)
	if err != nil {
		return nil, nil, err
	}
	merged, err := mergeConfig(icfg, cc)
	if err != nil {
		return nil, nil, errdefs.InvalidArgument(err)
	}
	if err := d.validateHostConfig(&cc.HostConfig); err != nil {
		return nil, nil, errdefs.InvalidArgument(err)
	}
	args, err := spec.Args(spec.Options{Image: toImageConfig(merged)})
	if err != nil {
		return nil, nil, errdefs.InvalidArgument(fmt.Errorf("No command specified"))
	}
	mountSpecs, err := parseMountSpecs(&cc.HostConfig, merged)
	if err != nil {
		return nil, nil, errdefs.InvalidArgument(err)
	}

	id := newID()
	c := &container{
		rec: containerRecord{
			ID:            id,
			Name:          name,
			Created:       time.Now().UTC(),
			Image:         img.ID,
			ImageName:     imageName,
			Config:        *merged,
			HostConfig:    cc.HostConfig,
			EntrypointSet: cc.EntrypointSet,
			Path:          args[0],
			Args:          args[1:],
			State:         containerState{Status: stateCreated},
		},
		changed: make(chan struct{}),
		removed: make(chan struct{}),
	}
	if c.rec.Config.Hostname == "" {
		c.rec.Config.Hostname = id[:12]
		if networkMode(&cc.HostConfig) == "host" {
			c.rec.Config.Hostname, _ = os.Hostname()
		}
	}
	if c.rec.Name == "" {
		c.rec.Name = generateName(d.containers.nameTaken)
	}
	if err := os.MkdirAll(d.containerDir(id), 0o710); err != nil {
		return nil, nil, fmt.Errorf("create container directory: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = os.RemoveAll(d.containerDir(id))
		}
	}()
	if err := d.images.EnsureUnpacked(ctx, icfg); err != nil {
		return nil, nil, fmt.Errorf("image %s: %w", img.ID.Encoded()[:12], err)
	}
	anon, undoVolumes, err := d.createVolumes(mountSpecs)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if retErr != nil {
			undoVolumes()
		}
	}()
	c.rec.MountSpecs = mountSpecs
	c.rec.AnonymousVolumes = anon
	c.rec.Mounts = d.mountPoints(mountSpecs)
	// The container's record and its writable layer come in one commit.
	// The layer of a --rm container is volatile: it goes with the
	// container, and a crash of the machine removes both at the next
	// start.
	err = d.containers.reserve(c, func(put func(*bolt.Tx) error) error {
		_, err := d.images.Snapshotter().PrepareWith(id, images.ChainID(icfg), map[string]string{"container": id}, cc.HostConfig.AutoRemove, put)
		if err != nil {
			return fmt.Errorf("prepare writable layer: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	logrus.WithFields(logrus.Fields{"container": id[:12], "name": c.rec.Name, "image": imageName}).Info("container created")
	return c, warnings, nil
}

// mergeConfig computes a container's effective config: the image's, with
// what the user gave on top (Docker's rules).
func mergeConfig(icfg *images.ImageConfig, cc types.CreateConfig) (*types.Config, error) {
	ic := icfg.Config
	u := cc.Config
	out := u
	for _, kv := range u.Env {
		if k, _, _ := strings.Cut(kv, "="); k == "" {
			return nil, fmt.Errorf("invalid environment variable: %s", kv)
		}
	}
	env := append([]string{}, ic.Env...)
	for _, kv := range u.Env {
		k, _, _ := strings.Cut(kv, "=")
		env = setEnv(env, k, kv)
	}
	out.Env = env
	if cc.EntrypointSet {
		out.Entrypoint = u.Entrypoint
		if len(out.Entrypoint) == 1 && out.Entrypoint[0] == "" {
			out.Entrypoint = nil
		}
		if len(u.Cmd) == 0 {
			out.Cmd = nil
		}
	} else {
		out.Entrypoint = ic.Entrypoint
		if len(u.Cmd) == 0 {
			out.Cmd = ic.Cmd
		}
	}
	if out.WorkingDir == "" {
		out.WorkingDir = ic.WorkingDir
	}
	if out.User == "" {
		out.User = ic.User
	}
	if out.StopSignal == "" {
		out.StopSignal = ic.StopSignal
	}
	if out.StopSignal != "" {
		if _, err := spec.ParseSignal(out.StopSignal); err != nil {
			return nil, err
		}
	}
	if len(ic.ExposedPorts) > 0 {
		ports := map[string]struct{}{}
		for p := range ic.ExposedPorts {
			ports[p] = struct{}{}
		}
		for p := range u.ExposedPorts {
			ports[p] = struct{}{}
		}
		out.ExposedPorts = ports
	}
	if len(ic.Volumes) > 0 {
		vols := map[string]struct{}{}
		for v := range ic.Volumes {
			vols[v] = struct{}{}
		}
		for v := range u.Volumes {
			vols[v] = struct{}{}
		}
		out.Volumes = vols
	}
	if len(ic.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range ic.Labels {
			labels[k] = v
		}
		for k, v := range u.Labels {
			labels[k] = v
		}
		out.Labels = labels
	}
	if out.Healthcheck == nil && ic.Healthcheck != nil {
		h := ic.Healthcheck
		out.Healthcheck = &types.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	if len(out.Shell) == 0 {
		out.Shell = ic.Shell
	}
	out.OnBuild = nil
	return &out, nil
}

func setEnv(env []string, key, kv string) []string {
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// validateHostConfig checks run options (resources, logging, security,
// restart policy, networking) that the daemon must refuse before
// creating anything.
func (d *Daemon) validateHostConfig(hc *types.HostConfig) error {
	if hc.LogConfig.Type != "" && hc.LogConfig.Type != "json-file" {
		return fmt.Errorf("logging driver %q is not supported: only json-file", hc.LogConfig.Type)
	}
	if _, _, err := logLimits(hc.LogConfig.Config); err != nil {
		return err
	}
	for _, c := range append(append([]string{}, hc.CapAdd...), hc.CapDrop...) {
		if !validCapability(c) {
			return fmt.Errorf("invalid capability %q: use a name like NET_ADMIN or ALL", c)
		}
	}
	for _, o := range hc.SecurityOpt {
		switch {
		case o == "no-new-privileges", o == "no-new-privileges:true", o == "no-new-privileges=true",
			o == "no-new-privileges:false", o == "no-new-privileges=false",
			o == "seccomp=unconfined", o == "seccomp:unconfined":
		default:
			return fmt.Errorf("invalid --security-opt %q: supported are no-new-privileges and seccomp=unconfined", o)
		}
	}
	if hc.Memory < 0 || (hc.Memory > 0 && hc.Memory < 6*1024*1024) {
		return fmt.Errorf("minimum memory limit allowed is 6MB")
	}
	if hc.NanoCPUs < 0 {
		return fmt.Errorf("invalid --cpus: must be positive")
	}
	p := restart.Policy{Name: hc.RestartPolicy.Name, MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := restart.CheckAutoRemove(p, hc.AutoRemove); err != nil {
		return err
	}
	return d.validateNetworking(hc)
}

func validCapability(c string) bool {
	c = strings.ToUpper(strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
	if c == "ALL" {
		return true
	}
	for _, k := range allCapabilities {
		if k == c {
			return true
		}
	}
	return false
}

var allCapabilities = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
	"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
	"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// logLimits parses --log-opt max-size / max-file.
func logLimits(opts map[string]string) (maxSize int64, maxFiles int, err error) {
	maxFiles = 1
	for k, v := range opts {
		switch k {
		case "max-size":
			n, err := parseSize(v)
			if err != nil || n <= 0 {
				return 0, 0, fmt.Errorf("invalid --log-opt max-size=%s: use a size like 10m", v)
			}
			maxSize = n
		case "max-file":
			var n int
			if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 1 {
				return 0, 0, fmt.Errorf("invalid --log-opt max-file=%s: use a number of files >= 1", v)
			}
			maxFiles = n
		default:
			return 0, 0, fmt.Errorf("unknown log opt %q for json-file log driver: use max-size or max-file", k)
		}
	}
	return maxSize, maxFiles, nil
}

func parseSize(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "kb"):
		mult = 1 << 10
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "mb"):
		mult = 1 << 20
	case strings.HasSuffix(s, "g"), strings.HasSuffix(s, "gb"):
		mult = 1 << 30
	}
	s = strings.TrimRight(s, "kmgb")
	var n int64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		return 0, err
	}
	return n * mult, nil
}

// toImageConfig turns an effective container config into the image-config
// shape the spec generator takes.
func toImageConfig(c *types.Config) (out imageConfig) {
	out.Env = c.Env
	out.Cmd = c.Cmd
	out.Entrypoint = c.Entrypoint
	out.WorkingDir = c.WorkingDir
	out.User = c.User
	out.StopSignal = c.StopSignal
	out.ExposedPorts = c.ExposedPorts
	out.Volumes = c.Volumes
	out.Labels = c.Labels
	return out
}

func decodeCreateConfig(b []byte) (types.CreateConfig, error) {
	var cc types.CreateConfig
	if err := json.Unmarshal(b, &cc); err != nil {
		return cc, errdefs.InvalidArgument(fmt.Errorf("invalid container config: %w", err))
	}
	return cc, nil
}
