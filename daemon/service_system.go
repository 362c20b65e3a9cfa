package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/version"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// errorInterceptor turns daemon errors into status codes the CLI can
// classify, and logs failures with their method (and, at debug level, every
// request's duration, which is how start latency is profiled).
func errorInterceptor(ctx context.Context, name string, m api.Method, params json.RawMessage) (any, error) {
	if logrus.IsLevelEnabled(logrus.DebugLevel) {
		start := time.Now()
		defer func() {
			logrus.WithFields(logrus.Fields{"method": name, "took": time.Since(start)}).Debug("request")
		}()
	}
	resp, err := m(ctx, params)
	if err != nil {
		logrus.WithField("method", name).WithError(err).Debug("request failed")
		return nil, errdefs.ToWire(err)
	}
	return resp, nil
}

// newID returns 64 hex characters, the shape of container IDs.
func newID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

type systemService struct{ d *Daemon }

func (s *systemService) Version(ctx context.Context, _ *api.Empty) (*api.VersionResponse, error) {
	return &api.VersionResponse{
		Version:    version.Version,
		GitCommit:  version.GitCommit,
		GoVersion:  runtime.Version(),
		Os:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		ApiVersion: version.APIVersion,
	}, nil
}

func (s *systemService) Info(ctx context.Context, _ *api.Empty) (*api.InfoResponse, error) {
	d := s.d
	info := types.Info{
		ID:              machineID(),
		Images:          d.images.Count(),
		Driver:          "overlayfs",
		LoggingDriver:   "json-file",
		CgroupDriver:    "cgroupfs",
		CgroupVersion:   cgroupVersion(),
		OSType:          runtime.GOOS,
		Architecture:    runtime.GOARCH,
		NCPU:            runtime.NumCPU(),
		ServerVersion:   version.Version,
		DataRoot:        d.cfg.DataRoot,
		ExecRoot:        d.cfg.ExecRoot,
		Debug:           logrus.IsLevelEnabled(logrus.DebugLevel),
		OperatingSystem: osName(),
	}
	for _, c := range d.containers.list() {
		info.Containers++
		c.mu.Lock()
		status := c.rec.State.Status
		c.mu.Unlock()
		switch status {
		case stateRunning, stateRestarting:
			info.ContainersRunning++
		case statePaused:
			info.ContainersPaused++
		default:
			info.ContainersStopped++
		}
	}
	info.Warnings = d.warnings()
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		info.KernelVersion = unix.ByteSliceToString(uts.Release[:])
	}
	info.Name, _ = os.Hostname()
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		info.MemTotal = int64(si.Totalram) * int64(si.Unit)
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil {
		info.IPv4Forwarding = strings.TrimSpace(string(b)) == "1"
	}
	b, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	return &api.InfoResponse{Json: b}, nil
}

func machineID() string {
	b, _ := os.ReadFile("/etc/machine-id")
	return strings.TrimSpace(string(b))
}

func cgroupVersion() string {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "2"
	}
	return "1"
}

func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}
