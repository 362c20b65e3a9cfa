package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/images/snapshot"
	"github.com/ctrd/ctrd/runtime/seccompcache"
	"github.com/ctrd/ctrd/runtime/shim"
	"github.com/ctrd/ctrd/runtime/spec"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"
)

type imageConfig = dockerspec.DockerOCIImageConfig

type shimHandle = *shim.Client

// beginDelay bounds how long a started container waits for its client to
// attach before it runs anyway.
const beginDelay = 10 * time.Second

func (d *Daemon) logPath(id string) string {
	return filepath.Join(d.containerDir(id), id+"-json.log")
}

func (d *Daemon) rootfsDir(id string) string { return filepath.Join(d.bundleDir(id), "rootfs") }

func (d *Daemon) stateRoot() string { return filepath.Join(d.cfg.ExecRoot, "runc") }

func (d *Daemon) cgroupsPath(id string) string {
	return filepath.Join(d.cfg.CgroupParent, id)
}

// startContainer runs a container: unless its new run is already prepared
// (a restart held in its back-off wait), it is prepared first. Unless
// attachFirst, the user process runs at once; otherwise it waits for begin.
func (d *Daemon) startContainer(ctx context.Context, c *container, attachFirst bool) (warnings []string, retErr error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.rec.State.Status {
	case stateRunning, statePaused:
		return nil, errdefs.Conflict(fmt.Errorf("container %s is already running", c.rec.Name))
	case stateRemoving:
		return nil, errdefs.Conflict(fmt.Errorf("container %s is being removed", c.rec.Name))
	}
	d.restarts.Cancel(c.rec.ID)
	if c.shim == nil {
		if err := d.prepareLocked(ctx, c); err != nil {
			return nil, err
		}
	}
	// A new run: Docker keeps FinishedAt of the previous one until the next exit.
	c.rec.State = containerState{Status: stateCreated, FinishedAt: c.rec.State.FinishedAt}
	if attachFirst {
		c.beginTimer = time.AfterFunc(beginDelay, func() { _ = d.begin(context.Background(), c) })
		return warnings, nil
	}
	return warnings, d.beginLocked(ctx, c)
}

// prepareLocked mounts the container's layers, sets up its network, writes
// its spec and starts its shim, which creates the container: everything
// but running the user process. A failure releases all of it and is
// recorded in the container's state.
func (d *Daemon) prepareLocked(ctx context.Context, c *container) (retErr error) {
	id := c.rec.ID
	bundle := d.bundleDir(id)
	rootfs := d.rootfsDir(id)
	if err := os.MkdirAll(rootfs, 0o711); err != nil {
		return fmt.Errorf("create bundle: %w", err)
	}
	defer func() {
		if retErr != nil {
			c.attachNetwork = nil
			d.releaseRuntime(c, true)
			c.rec.State.Error = errdefs.Message(retErr)
			var se *shim.StartError
			if errors.As(retErr, &se) {
				c.rec.State.ExitCode = se.ExitCode
			} else {
				c.rec.State.ExitCode = 128
			}
			_ = d.containers.save(&c.rec)
			c.notifyLocked()
		}
	}()
	t0 := time.Now()
	mounts, err := d.images.Snapshotter().Mounts(id)
	if err != nil {
		return fmt.Errorf("writable layer: %w", err)
	}
	if c.rec.HostConfig.AutoRemove {
		// Its layer goes with it: no need to sync it, at unmount or ever.
		mounts = snapshot.Volatile(mounts)
	}
	if err := snapshot.MountAll(mounts, rootfs); err != nil {
		return fmt.Errorf("mount rootfs: %w", err)
	}
	tMount := time.Now()
	opts, err := d.specOptions(c, rootfs)
	if err != nil {
		return err
	}
	s, err := spec.Generate(opts)
	if err != nil {
		return errdefs.InvalidArgument(err)
	}
	if err := writeJSONFile(filepath.Join(bundle, "config.json"), s); err != nil {
		return err
	}
	if err := d.writeSeccompFilter(bundle, s); err != nil {
		// The init compiles the filter itself, as it would without ctrd's.
		logrus.WithError(err).WithField("container", id[:12]).Warn("seccomp filter not compiled ahead")
	}
	tSpec := time.Now()
	maxSize, maxFiles, err := logLimits(c.rec.HostConfig.LogConfig.Config)
	if err != nil {
		return errdefs.InvalidArgument(err)
	}
	// The network is attached while the shim creates the container,
	// which joins the namespace but runs nothing of the user's in it
	// before begin; a failure of either undoes both (releaseRuntime).
	attached := make(chan error, 1)
	if attach := c.attachNetwork; attach != nil {
		c.attachNetwork = nil
		go func() { attached <- attach() }()
	} else {
		attached <- nil
	}
	cl, err := shim.Start(ctx, shim.StartOptions{
		ID:          id,
		Bundle:      bundle,
		StateRoot:   d.stateRoot(),
		Binary:      d.shimBinary(),
		Standby:     d.standby,
		Tty:         c.rec.Config.Tty,
		Stdin:       c.rec.Config.OpenStdin,
		LogPath:     d.logPath(id),
		LogMaxSize:  maxSize,
		LogMaxFiles: maxFiles,
		Debug:       logrus.IsLevelEnabled(logrus.DebugLevel),
	})
	attachErr := <-attached
	if err != nil {
		return err
	}
	c.shim = cl
	if attachErr != nil {
		return attachErr
	}
	logrus.WithFields(logrus.Fields{
		"container": id[:12], "mount": tMount.Sub(t0), "spec+network": tSpec.Sub(tMount), "shim": time.Since(tSpec),
	}).Debug("container created in its shim")
	return nil
}

// begin runs the user process of a started container (idempotent).
func (d *Daemon) begin(ctx context.Context, c *container) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return d.beginLocked(ctx, c)
}

func (d *Daemon) beginLocked(ctx context.Context, c *container) error {
	if c.beginTimer != nil {
		c.beginTimer.Stop()
		c.beginTimer = nil
	}
	if c.shim == nil || c.rec.State.Status != stateCreated {
		return nil
	}
	pid, err := c.shim.Start(ctx)
	if err != nil {
		d.releaseRuntime(c, true)
		c.rec.State.Error = err.Error()
		_ = d.containers.save(&c.rec)
		c.notifyLocked()
		return err
	}
	c.rec.State = containerState{Status: stateRunning, Pid: pid, StartedAt: time.Now().UTC(), FinishedAt: c.rec.State.FinishedAt}
	// Watched from now, even if the save below fails: the process runs.
	// Its exit is handled under c.mu, after this function's save.
	d.monitor(c, c.shim)
	err = d.containers.save(&c.rec)
	c.notifyLocked()
	if err != nil {
		return err
	}
	logrus.WithFields(logrus.Fields{"container": c.rec.ID[:12], "pid": pid}).Info("container started")
	return nil
}

// monitor waits for the container's init to exit and records it.
func (d *Daemon) monitor(c *container, cl *shim.Client) {
	go func() {
		st, err := cl.Wait(context.Background())
		if err != nil {
			if d.shuttingDown() {
				return
			}
			// The shim is gone: its exit file, if any, knows the code.
			if fst, ok, _ := shim.ReadExitFile(cl.Bundle()); ok {
				st = fst
			} else {
				st = shim.ExitStatus{Code: 137, ExitedAt: time.Now().UTC(), Error: "container shim exited unexpectedly"}
			}
		}
		d.handleExit(c, cl, st)
	}()
}

// handleExit records a container's exit, releases what it held while
// running and applies its restart policy.
func (d *Daemon) handleExit(c *container, cl *shim.Client, st shim.ExitStatus) {
	c.mu.Lock()
	if c.shim != cl {
		c.mu.Unlock()
		return // already handled (e.g. by a forced removal)
	}
	ranFor := time.Since(c.rec.State.StartedAt)
	// A forced removal waiting for this exit goes on with the removal
	// itself: the container is neither shown as exited nor removed or
	// restarted a second time here.
	removing := c.rec.State.Status == stateRemoving
	autoRemove := c.rec.HostConfig.AutoRemove && !removing && !c.manualRestart
	// A --rm container is removed right here, under the same lock; its
	// runtime is released after its waiters are told, once the lock is
	// dropped. The address of a container about to be removed is freed
	// with its record, in the same commit.
	if !autoRemove {
		d.releaseRuntime(c, !removing)
	}
	if !removing {
		c.rec.State.Status = stateExited
	}
	c.rec.State.Pid = 0
	c.rec.State.ExitCode = st.Code
	c.rec.State.Error = st.Error
	c.rec.State.FinishedAt = st.ExitedAt
	if c.rec.State.FinishedAt.IsZero() {
		c.rec.State.FinishedAt = time.Now().UTC()
	}
	// A --rm container's record goes next: the exit is not worth a
	// transaction of its own (after a crash in between, the start's
	// reconcile finds it stopped and removes it).
	if !autoRemove {
		if err := d.containers.save(&c.rec); err != nil {
			logrus.WithError(err).WithField("container", c.rec.ID[:12]).Error("record exit")
		}
	}
	logrus.WithFields(logrus.Fields{"container": c.rec.ID[:12], "exitCode": st.Code}).Info("container exited")
	if autoRemove {
		release, err := d.removeLocked(c, true)
		if err != nil {
			logrus.WithError(err).WithField("container", c.rec.ID[:12]).Warn("auto-remove")
			// Still stopped and recorded: its exit is saved and
			// its runtime released, as for any other container.
			d.releaseRuntime(c, true)
			if err := d.containers.save(&c.rec); err != nil {
				logrus.WithError(err).WithField("container", c.rec.ID[:12]).Error("record exit")
			}
		}
		c.notifyLocked()
		c.mu.Unlock()
		if release != nil {
			release()
		}
		return
	}
	c.notifyLocked()
	c.mu.Unlock()
	if removing {
		return
	}
	d.afterExit(c, st.Code, ranFor)
}

// releaseRuntime deletes the container from its shim, unmounts its rootfs
// and detaches its network: what exists only while a container runs.
// Unless freeAddress, the container keeps its address and ports recorded,
// for the caller to free them in a transaction of its own. Idempotent;
// c.mu is held.
func (d *Daemon) releaseRuntime(c *container, freeAddress bool) {
	d.takeRuntime(c).release(freeAddress)
}

// heldRuntime is what a container holds while it runs, taken from it: its
// release needs neither the container nor its lock.
type heldRuntime struct {
	d    *Daemon
	id   string
	shim shimHandle
}

// takeRuntime takes the runtime from c (c.mu held); c then has no shim.
func (d *Daemon) takeRuntime(c *container) heldRuntime {
	if c.beginTimer != nil {
		c.beginTimer.Stop()
		c.beginTimer = nil
	}
	h := heldRuntime{d: d, id: c.rec.ID, shim: c.shim}
	c.shim = nil
	return h
}

func (h heldRuntime) release(freeAddress bool) {
	d, id := h.d, h.id
	// Neither the network nor the rootfs mount waits for the shim: the
	// container's processes, if any are left, have their own network and
	// mount namespaces. Releasing them while the shim goes saves their time
	// on every `run --rm` and every restart.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		d.releaseNetwork(id, freeAddress)
	}()
	go func() {
		defer wg.Done()
		if err := snapshot.Unmount(d.rootfsDir(id)); err != nil {
			logrus.WithError(err).WithField("container", id[:12]).Warn("unmount rootfs")
		}
	}()
	if h.shim != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := h.shim.Delete(ctx); err != nil {
			logrus.WithError(err).WithField("container", id[:12]).Debug("shim delete")
			_ = shim.Cleanup(d.stateRoot(), d.bundleDir(id), id)
		}
		cancel()
		h.shim.Close()
	} else if _, err := os.Stat(d.bundleDir(id)); err == nil {
		_ = shim.Cleanup(d.stateRoot(), d.bundleDir(id), id)
	}
	wg.Wait()
	// Volume and bind mounts live in the container's own mount namespace
	// and go with it: nothing is mounted on the host for them.
	if err := os.RemoveAll(d.bundleDir(id)); err != nil {
		logrus.WithError(err).WithField("container", id[:12]).Warn("remove bundle")
	}
}

// restartContainer stops c and starts it again. A --rm container is not
// removed by this stop, as in Docker.
func (d *Daemon) restartContainer(ctx context.Context, c *container, timeout int, sigName string) error {
	c.mu.Lock()
	c.manualRestart = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.manualRestart = false
		c.mu.Unlock()
	}()
	if err := d.stopContainer(ctx, c, timeout, sigName); err != nil {
		return err
	}
	_, err := d.startContainer(ctx, c, false)
	return err
}

// stopContainer sends the stop signal, then SIGKILL after timeout.
func (d *Daemon) stopContainer(ctx context.Context, c *container, timeout int, sigName string) error {
	c.mu.Lock()
	d.restarts.Cancel(c.rec.ID)
	if c.rec.State.Status == stateRestarting {
		// Stopped during its back-off wait: drop the prepared run.
		d.releaseRuntime(c, true)
		c.rec.State.Status = stateExited
		c.rec.State.ManuallyStopped = true
		_ = d.containers.save(&c.rec)
		c.notifyLocked()
	}
	if c.shim == nil || (c.rec.State.Status != stateRunning && c.rec.State.Status != statePaused) {
		c.mu.Unlock()
		return nil // Docker: stopping a stopped container is not an error
	}
	c.rec.State.ManuallyStopped = true
	_ = d.containers.save(&c.rec)
	if sigName == "" {
		sigName = c.rec.Config.StopSignal
	}
	sig := syscall.SIGTERM
	if sigName != "" {
		s, err := spec.ParseSignal(sigName)
		if err != nil {
			c.mu.Unlock()
			return errdefs.InvalidArgument(err)
		}
		sig = s
	}
	if timeout < 0 {
		timeout = 10
	}
	cl := c.shim
	paused := c.rec.State.Status == statePaused
	c.mu.Unlock()

	if paused {
		_ = cl.Resume(ctx)
	}
	if err := cl.Kill(ctx, sig, false); err != nil && !errors.Is(err, shim.ErrNotRunning) {
		logrus.WithError(err).Debug("stop signal")
	}
	if d.waitExit(ctx, c, time.Duration(timeout)*time.Second) {
		return nil
	}
	if err := cl.Kill(ctx, syscall.SIGKILL, true); err != nil && !errors.Is(err, shim.ErrNotRunning) {
		logrus.WithError(err).Debug("stop kill")
	}
	if !d.waitExit(ctx, c, 30*time.Second) {
		return fmt.Errorf("container %s did not stop", c.rec.Name)
	}
	return nil
}

// waitExit waits until c is no longer running (true) or the time is up.
func (d *Daemon) waitExit(ctx context.Context, c *container, max time.Duration) bool {
	t := time.NewTimer(max)
	defer t.Stop()
	for {
		c.mu.Lock()
		running := c.shim != nil
		ch := c.changed
		c.mu.Unlock()
		if !running {
			return true
		}
		select {
		case <-ch:
		case <-c.removed:
			return true
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (d *Daemon) killContainer(ctx context.Context, c *container, sigName string) error {
	sig := syscall.SIGKILL
	if sigName != "" {
		s, err := spec.ParseSignal(sigName)
		if err != nil {
			return errdefs.InvalidArgument(err)
		}
		sig = s
	}
	c.mu.Lock()
	if c.rec.State.Status == stateRestarting {
		// Killed during its back-off wait: it stays stopped, as after stop.
		d.restarts.Cancel(c.rec.ID)
		d.releaseRuntime(c, true)
		c.rec.State.Status = stateExited
		c.rec.State.ManuallyStopped = true
		_ = d.containers.save(&c.rec)
		c.notifyLocked()
		c.mu.Unlock()
		return nil
	}
	if c.shim == nil || c.rec.State.Status != stateRunning && c.rec.State.Status != statePaused {
		c.mu.Unlock()
		return errdefs.Conflict(fmt.Errorf("Cannot kill container: %s: container %s is not running", c.rec.Name, c.rec.ID))
	}
	c.rec.State.ManuallyStopped = true
	_ = d.containers.save(&c.rec)
	cl := c.shim
	c.mu.Unlock()
	if err := cl.Kill(ctx, sig, false); err != nil {
		return fmt.Errorf("Cannot kill container: %s: %w", c.rec.Name, err)
	}
	if sig == syscall.SIGKILL {
		d.waitExit(ctx, c, 10*time.Second)
	}
	return nil
}

// removeContainer deletes a container and everything of it.
func (d *Daemon) removeContainer(ctx context.Context, c *container, force, volumes bool) error {
	c.mu.Lock()
	running := c.shim != nil && (c.rec.State.Status == stateRunning || c.rec.State.Status == statePaused)
	if c.rec.State.Status == stateRemoving {
		c.mu.Unlock()
		return errdefs.Conflict(fmt.Errorf("removal of container %s is already in progress", c.rec.Name))
	}
	if running && !force {
		c.mu.Unlock()
		return errdefs.Conflict(fmt.Errorf("You cannot remove a running container %s. Stop the container before attempting removal or force remove", c.rec.ID))
	}
	d.restarts.Cancel(c.rec.ID)
	prev := c.rec.State.Status
	c.rec.State.Status = stateRemoving
	c.notifyLocked()
	c.mu.Unlock()
	if running {
		if cl := c.shim; cl != nil {
			_ = cl.Kill(ctx, syscall.SIGKILL, true)
		}
		if !d.waitExit(ctx, c, 10*time.Second) {
			c.mu.Lock()
			c.rec.State.Status = prev
			c.notifyLocked()
			c.mu.Unlock()
			return fmt.Errorf("could not kill running container %s, cannot remove", c.rec.ID)
		}
	}
	c.mu.Lock()
	release, err := d.removeLocked(c, volumes)
	if err != nil && c.rec.State.Status == stateRemoving {
		// Not removed: shown as it was (stopped, if it was killed
		// for the removal), and removable again.
		c.rec.State.Status = prev
		if c.shim == nil && (prev == stateRunning || prev == statePaused || prev == stateRestarting) {
			c.rec.State.Status = stateExited
		}
		_ = d.containers.save(&c.rec)
		c.notifyLocked()
	}
	c.mu.Unlock()
	if release != nil {
		release()
	}
	return err
}

// removeLocked deletes a container that is not running, with c.mu held.
// The record, the writable layer and the address go in one commit, and
// whoever waits for the removal (run --rm) learns of it then. What is left
// to release (shim, mounts, network namespace, files) is returned, for the
// caller to run once it has unlocked c.mu: waiters need mu to see the
// removal. After a crash in between, the start's reconcile releases and
// deletes what no record names.
func (d *Daemon) removeLocked(c *container, volumes bool) (release func(), err error) {
	select {
	case <-c.removed:
		return nil, nil // removed meanwhile
	default:
	}
	deleteLayer, err := d.images.Snapshotter().RemoveWith(c.rec.ID, func(tx *bolt.Tx) error {
		if err := d.network.ReleaseTx(tx, c.rec.ID); err != nil {
			return fmt.Errorf("release network: %w", err)
		}
		return d.containers.deleteTx(tx, c)
	})
	if err != nil {
		return nil, fmt.Errorf("remove container: %w", err)
	}
	d.containers.forget(c)
	held := d.takeRuntime(c)
	rec := c.rec
	return func() {
		held.release(false)
		deleteLayer()
		if volumes {
			d.removeAnonymousVolumes(rec)
		}
		if err := os.RemoveAll(d.containerDir(rec.ID)); err != nil {
			logrus.WithError(err).WithField("container", rec.ID[:12]).Warn("remove container files")
		}
		logrus.WithField("container", rec.ID[:12]).Info("container removed")
	}, nil
}

// waitContainer blocks until condition holds and returns the exit code.
func (d *Daemon) waitContainer(ctx context.Context, c *container, condition string) (int, string, error) {
	c.mu.Lock()
	first := c.changed
	c.mu.Unlock()
	for {
		select {
		case <-c.removed:
			return c.final.ExitCode, c.final.Error, nil
		default:
		}
		c.mu.Lock()
		st := c.rec.State
		ch := c.changed
		c.mu.Unlock()
		notRunning := st.Status != stateRunning && st.Status != statePaused && st.Status != stateRestarting && !(st.Status == stateCreated && c.shim != nil)
		switch condition {
		case "", "not-running":
			if notRunning && st.Status != stateRemoving {
				return st.ExitCode, st.Error, nil
			}
		case "next-exit":
			if ch != first && notRunning && st.Status != stateRemoving {
				return st.ExitCode, st.Error, nil
			}
		case "removed":
		default:
			return 0, "", errdefs.InvalidArgument(fmt.Errorf("invalid wait condition %q", condition))
		}
		select {
		case <-ch:
		case <-c.removed:
		case <-ctx.Done():
			return 0, "", ctx.Err()
		}
	}
}

func writeJSONFile(path string, v interface{}) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeSeccompFilter puts the compiled seccomp filter of s into bundle,
// where the container's init takes it instead of compiling its own (see
// package seccompcache), or removes a previous start's.
func (d *Daemon) writeSeccompFilter(bundle string, s *specs.Spec) error {
	path := filepath.Join(bundle, seccompcache.FileName)
	if !seccompcache.Supported || s.Linux == nil || s.Linux.Seccomp == nil {
		return removeIfExists(path)
	}
	f, err := d.seccomp.File(s.Linux.Seccomp)
	if err != nil {
		return errors.Join(err, removeIfExists(path))
	}
	// A torn write fails the file's checksum, and the init compiles.
	return os.WriteFile(path, f, 0o600)
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// specOptions turns a container record into the spec generator's input.
func (d *Daemon) specOptions(c *container, rootfs string) (spec.Options, error) {
	rec := &c.rec
	hc := &rec.HostConfig
	o := spec.Options{
		ID:             rec.ID,
		Hostname:       rec.Config.Hostname,
		Domainname:     rec.Config.Domainname,
		Rootfs:         rootfs,
		Image:          toImageConfig(&rec.Config),
		Tty:            rec.Config.Tty,
		OpenStdin:      rec.Config.OpenStdin,
		Privileged:     hc.Privileged,
		CapAdd:         hc.CapAdd,
		CapDrop:        hc.CapDrop,
		ReadonlyRootfs: hc.ReadonlyRootfs,
		Memory:         hc.Memory,
		MemorySwap:     hc.MemorySwap,
		NanoCPUs:       hc.NanoCPUs,
		CgroupsPath:    d.cgroupsPath(rec.ID),
		StopSignal:     rec.Config.StopSignal,
	}
	if hc.PidsLimit != nil {
		o.PidsLimit = *hc.PidsLimit
	}
	for _, so := range hc.SecurityOpt {
		switch {
		case strings.HasPrefix(so, "no-new-privileges") && !strings.HasSuffix(so, "false"):
			o.NoNewPrivileges = true
		case strings.HasPrefix(so, "seccomp"):
			o.SeccompUnconfined = true
		}
	}
	if hc.Init != nil && *hc.Init {
		o.Init = true
		o.InitPath = d.initBinary()
	}
	if err := d.containerMounts(c, rootfs, &o); err != nil {
		return o, err
	}
	return o, nil
}

// inspectContainer builds `ctr inspect` output.
func (d *Daemon) inspectContainer(c *container) *types.ContainerJSON {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := c.rec
	st := rec.State
	doc := &types.ContainerJSON{
		ID:           rec.ID,
		Created:      rec.Created.Format(time.RFC3339Nano),
		Path:         rec.Path,
		Args:         rec.Args,
		Image:        rec.Image.String(),
		LogPath:      d.logPath(rec.ID),
		Name:         "/" + rec.Name,
		RestartCount: rec.RestartCount,
		Driver:       "overlayfs",
		Platform:     "linux",
		HostConfig:   &rec.HostConfig,
		Config:       &rec.Config,
		Mounts:       rec.Mounts,
		State: &types.ContainerState{
			Status:     st.Status,
			Running:    st.Status == stateRunning || st.Status == statePaused,
			Paused:     st.Status == statePaused,
			Restarting: st.Status == stateRestarting,
			OOMKilled:  st.OOMKilled,
			Dead:       st.Status == stateDead,
			Pid:        st.Pid,
			ExitCode:   st.ExitCode,
			Error:      st.Error,
			StartedAt:  zeroTime(st.StartedAt),
			FinishedAt: zeroTime(st.FinishedAt),
		},
		GraphDriver: types.GraphDriver{Name: "overlayfs", Data: map[string]string{}},
	}
	if doc.Mounts == nil {
		doc.Mounts = []types.MountPoint{}
	}
	sn := d.images.Snapshotter()
	if up, err := sn.UpperDir(rec.ID); err == nil {
		doc.GraphDriver.Data["UpperDir"] = up
		doc.GraphDriver.Data["WorkDir"] = filepath.Join(filepath.Dir(up), "work")
		doc.GraphDriver.Data["MergedDir"] = d.rootfsDir(rec.ID)
		if lowers, err := sn.LowerDirs(rec.ID); err == nil {
			doc.GraphDriver.Data["LowerDir"] = strings.Join(lowers, ":")
		}
	}
	d.fillNetworkSettings(c, doc)
	return doc
}

func zeroTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// initBinary is the static init run in front of the command with --init.
func (d *Daemon) initBinary() string { return siblingBinary("ctrd-init") }

// shimBinary is the slim shim installed next to ctrd, or "" (ctrd then
// re-executes itself as the shim). Looked up once: it is on every start.
func (d *Daemon) shimBinary() string {
	d.shimOnce.Do(func() {
		p := siblingBinary("ctrd-shim")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			d.shimPath = p
		}
	})
	return d.shimPath
}

// startStandby keeps a shim started ahead of the next container (see
// shim.Standby); without it, shims are started on demand.
func (d *Daemon) startStandby() {
	sb, err := shim.NewStandby(d.shimBinary(), d.stateRoot())
	if err != nil {
		logrus.WithError(err).Warn("no standby shim: containers start a little slower")
		return
	}
	d.standby = sb
}

// compileDefaultSeccomp compiles the seccomp filter of containers with the
// default capabilities, so that the first one after ctrd starts does not
// wait for it.
func (d *Daemon) compileDefaultSeccomp() {
	if !seccompcache.Supported {
		return
	}
	p, err := spec.DefaultSeccomp()
	if err == nil {
		_, err = d.seccomp.File(p)
	}
	if err != nil {
		logrus.WithError(err).Warn("default seccomp filter not compiled ahead")
	}
}

// siblingBinary is the path of name in ctrd's own directory.
func siblingBinary(name string) string {
	exe, err := os.Executable()
	if err != nil {
		return filepath.Join("/usr/local/bin", name)
	}
	return filepath.Join(filepath.Dir(exe), name)
}
