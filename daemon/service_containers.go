package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/images/archive"
	"github.com/ctrd/ctrd/runtime/shim"
)

type containersService struct{ d *Daemon }

var empty = &api.Empty{}

func (s *containersService) get(ref string) (*container, error) { return s.d.containers.get(ref) }

func (s *containersService) Create(ctx context.Context, req *api.CreateContainerRequest) (*api.CreateContainerResponse, error) {
	cc, err := decodeCreateConfig(req.Config)
	if err != nil {
		return nil, err
	}
	c, warnings, err := s.d.createContainer(ctx, req.Name, cc)
	if err != nil {
		return nil, err
	}
	return &api.CreateContainerResponse{Id: c.rec.ID, Warnings: append(warnings, s.d.warnings()...)}, nil
}

func (s *containersService) Start(ctx context.Context, req *api.StartContainerRequest) (*api.StartContainerResponse, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	if _, err := s.d.startContainer(ctx, c, req.AttachFirst); err != nil {
		return nil, err
	}
	return &api.StartContainerResponse{
		AttachSocket: shim.AttachSocketPath(s.d.bundleDir(c.rec.ID), ""),
		Tty:          c.rec.Config.Tty,
	}, nil
}

func (s *containersService) Begin(ctx context.Context, req *api.ContainerRequest) (*api.Empty, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	return empty, s.d.begin(ctx, c)
}

func (s *containersService) Attach(ctx context.Context, req *api.ContainerRequest) (*api.AttachResponse, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shim == nil {
		return nil, errdefs.Conflict(fmt.Errorf("You cannot attach to a stopped container, start it first"))
	}
	if c.rec.State.Status == statePaused {
		return nil, errdefs.Conflict(fmt.Errorf("You cannot attach to a paused container, unpause it first"))
	}
	return &api.AttachResponse{
		AttachSocket: shim.AttachSocketPath(s.d.bundleDir(c.rec.ID), ""),
		Tty:          c.rec.Config.Tty,
		Running:      true,
		OpenStdin:    c.rec.Config.OpenStdin,
	}, nil
}

func (s *containersService) Wait(ctx context.Context, req *api.WaitContainerRequest) (*api.WaitContainerResponse, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	code, msg, err := s.d.waitContainer(ctx, c, req.Condition)
	if err != nil {
		return nil, err
	}
	return &api.WaitContainerResponse{ExitCode: int32(code), Error: msg}, nil
}

func (s *containersService) Stop(ctx context.Context, req *api.StopContainerRequest) (*api.Empty, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	return empty, s.d.stopContainer(ctx, c, int(req.Timeout), req.Signal)
}

func (s *containersService) Restart(ctx context.Context, req *api.StopContainerRequest) (*api.Empty, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	return empty, s.d.restartContainer(ctx, c, int(req.Timeout), req.Signal)
}

func (s *containersService) Kill(ctx context.Context, req *api.KillContainerRequest) (*api.Empty, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	return empty, s.d.killContainer(ctx, c, req.Signal)
}

func (s *containersService) Pause(ctx context.Context, req *api.ContainerRequest) (*api.Empty, error) {
	return empty, s.setPaused(ctx, req.Id, true)
}

func (s *containersService) Unpause(ctx context.Context, req *api.ContainerRequest) (*api.Empty, error) {
	return empty, s.setPaused(ctx, req.Id, false)
}

func (s *containersService) setPaused(ctx context.Context, ref string, pause bool) error {
	c, err := s.get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.shim == nil || c.rec.State.Status != stateRunning && c.rec.State.Status != statePaused:
		return errdefs.Conflict(fmt.Errorf("Container %s is not running", c.rec.ID))
	case pause && c.rec.State.Status == statePaused:
		return errdefs.Conflict(fmt.Errorf("Container %s is already paused", c.rec.ID))
	case !pause && c.rec.State.Status != statePaused:
		return errdefs.Conflict(fmt.Errorf("Container %s is not paused", c.rec.ID))
	}
	if pause {
		if err := c.shim.Pause(ctx); err != nil {
			return err
		}
		c.rec.State.Status = statePaused
	} else {
		if err := c.shim.Resume(ctx); err != nil {
			return err
		}
		c.rec.State.Status = stateRunning
	}
	c.notifyLocked()
	return s.d.containers.save(&c.rec)
}

func (s *containersService) Remove(ctx context.Context, req *api.RemoveContainerRequest) (*api.Empty, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	return empty, s.d.removeContainer(ctx, c, req.Force, req.Volumes)
}

func (s *containersService) List(ctx context.Context, req *api.ListContainersRequest) (*api.ListContainersResponse, error) {
	var out []types.ContainerSummary
	for _, c := range s.d.containers.list() {
		sum := s.d.summary(c)
		if !req.All && sum.State != stateRunning && sum.State != statePaused && sum.State != stateRestarting {
			continue
		}
		out = append(out, sum)
	}
	if out == nil {
		out = []types.ContainerSummary{}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &api.ListContainersResponse{Json: b}, nil
}

func (d *Daemon) summary(c *container) types.ContainerSummary {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := &c.rec
	cmd := append([]string{rec.Path}, rec.Args...)
	sum := types.ContainerSummary{
		ID:       rec.ID,
		Names:    []string{"/" + rec.Name},
		Image:    rec.ImageName,
		ImageID:  rec.Image.String(),
		Command:  strings.Join(cmd, " "),
		Created:  rec.Created.Unix(),
		Labels:   rec.Config.Labels,
		State:    rec.State.Status,
		Mounts:   rec.Mounts,
		ExitCode: rec.State.ExitCode,
		Ports:    d.summaryPorts(c),
	}
	if !rec.State.StartedAt.IsZero() {
		sum.StartedAt = rec.State.StartedAt.Unix()
	}
	if !rec.State.FinishedAt.IsZero() {
		sum.FinishedAt = rec.State.FinishedAt.Unix()
	}
	sum.Status = statusText(rec, d.restartPendingSince(rec.ID))
	return sum
}

// statusText is Docker's STATUS column: "Up 3 seconds", "Exited (0) 2
// seconds ago", "Created", "Restarting (1) 2 seconds ago".
func statusText(rec *containerRecord, restartingSince time.Time) string {
	st := rec.State
	switch st.Status {
	case stateRunning:
		return "Up " + humanDuration(time.Since(st.StartedAt))
	case statePaused:
		return "Up " + humanDuration(time.Since(st.StartedAt)) + " (Paused)"
	case stateRestarting:
		since := st.FinishedAt
		if since.IsZero() {
			since = restartingSince
		}
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, humanDuration(time.Since(since)))
	case stateExited:
		if st.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", st.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, humanDuration(time.Since(st.FinishedAt)))
	case stateRemoving:
		return "Removal In Progress"
	case stateDead:
		return "Dead"
	default:
		return "Created"
	}
}

func (s *containersService) Inspect(ctx context.Context, req *api.ContainerRequest) (*api.InspectContainerResponse, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(s.d.inspectContainer(c))
	if err != nil {
		return nil, err
	}
	return &api.InspectContainerResponse{Json: b}, nil
}

func (s *containersService) Logs(ctx context.Context, req *api.ContainerRequest) (*api.LogsResponse, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return &api.LogsResponse{
		Path:    s.d.logPath(c.rec.ID),
		Running: c.shim != nil || c.rec.State.Status == stateRestarting,
		Tty:     c.rec.Config.Tty,
	}, nil
}

func (s *containersService) Rename(ctx context.Context, req *api.RenameContainerRequest) (*api.Empty, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(req.Name, "/")
	if !validName.MatchString(name) {
		return nil, errdefs.InvalidArgument(fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", req.Name))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return empty, s.d.containers.rename(c, name)
}

func (s *containersService) Top(ctx context.Context, req *api.ContainerRequest) (*api.TopResponse, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	cl := c.shim
	running := c.rec.State.Status == stateRunning || c.rec.State.Status == statePaused
	c.mu.Unlock()
	if cl == nil || !running {
		return nil, errdefs.Conflict(fmt.Errorf("Container %s is not running", c.rec.ID))
	}
	pids, err := cl.Pids(ctx)
	if err != nil {
		return nil, err
	}
	return topOf(pids), nil
}

func (s *containersService) Diff(ctx context.Context, req *api.ContainerRequest) (*api.DiffResponse, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	sn := s.d.images.Snapshotter()
	upper, err := sn.UpperDir(c.rec.ID)
	if err != nil {
		return nil, err
	}
	lowers, err := sn.LowerDirs(c.rec.ID)
	if err != nil {
		return nil, err
	}
	changes, err := archive.Changes(ctx, upper, lowers)
	if err != nil {
		return nil, err
	}
	resp := &api.DiffResponse{}
	for _, ch := range changes {
		resp.Changes = append(resp.Changes, &api.Change{Kind: ch.Kind.String(), Path: ch.Path})
	}
	return resp, nil
}

func (s *containersService) Resize(ctx context.Context, req *api.ResizeRequest) (*api.Empty, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	cl := c.shim
	c.mu.Unlock()
	if cl == nil {
		return nil, errdefs.Conflict(fmt.Errorf("Container %s is not running", c.rec.ID))
	}
	return empty, cl.Resize(ctx, req.Width, req.Height)
}

func (s *containersService) Update(ctx context.Context, req *api.UpdateContainerRequest) (*api.Empty, error) {
	c, err := s.get(req.Id)
	if err != nil {
		return nil, err
	}
	if req.RestartPolicy != "" {
		if err := s.d.updateRestartPolicy(c, req.RestartPolicy); err != nil {
			return nil, errdefs.InvalidArgument(err)
		}
	}
	return empty, nil
}

// topOf lists processes like `ps -ef` for the given host pids.
func topOf(pids []int) *api.TopResponse {
	resp := &api.TopResponse{Titles: []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}}
	for _, pid := range pids {
		row := procRow(pid)
		if row != nil {
			resp.Processes = append(resp.Processes, &api.TopRow{Fields: row})
		}
	}
	return resp
}

func procRow(pid int) []string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	// Fields after the command name (which is in parentheses).
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return nil
	}
	ppid := f[1]
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	cpu := time.Duration(utime+stime) * time.Second / 100
	uid := "?"
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(l, "Uid:"); ok {
				if fs := strings.Fields(v); len(fs) > 0 {
					uid = userName(fs[0])
				}
			}
		}
	}
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	cmdline := strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
	if cmdline == "" {
		cmdline = "[" + s[strings.IndexByte(s, '(')+1:i] + "]"
	}
	h := int(cpu.Hours())
	m := int(cpu.Minutes()) % 60
	sec := int(cpu.Seconds()) % 60
	return []string{uid, strconv.Itoa(pid), ppid, "0", procStartTime(f[19]), "?", fmt.Sprintf("%02d:%02d:%02d", h, m, sec), cmdline}
}

func procStartTime(ticks string) string {
	t, err := strconv.ParseInt(ticks, 10, 64)
	if err != nil {
		return "?"
	}
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "?"
	}
	var uptime float64
	fmt.Sscanf(string(up), "%f", &uptime)
	started := time.Now().Add(-time.Duration(uptime*float64(time.Second)) + time.Duration(t)*time.Second/100)
	return started.Format("15:04")
}

func userName(uid string) string {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return uid
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) > 2 && f[2] == uid {
			return f[0]
		}
	}
	return uid
}

func humanDuration(d time.Duration) string {
	seconds := int(d.Seconds())
	switch {
	case seconds < 1:
		return "Less than a second"
	case seconds == 1:
		return "1 second"
	case seconds < 60:
		return fmt.Sprintf("%d seconds", seconds)
	case d.Minutes() < 2:
		return "About a minute"
	case d.Minutes() < 60:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d.Hours() < 2:
		return "About an hour"
	case d.Hours() < 48:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d.Hours() < 24*7*2:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d.Hours() < 24*30*2:
		return fmt.Sprintf("%d weeks", int(d.Hours()/24/7))
	case d.Hours() < 24*365*2:
		return fmt.Sprintf("%d months", int(d.Hours()/24/30))
	}
	return fmt.Sprintf("%d years", int(d.Hours()/24/365))
}
