package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctrd/ctrd/images/snapshot"
	"github.com/ctrd/ctrd/restart"
	"github.com/ctrd/ctrd/runtime/shim"
	"github.com/sirupsen/logrus"
)

// reconcileContainers runs at daemon start. It re-attaches to shims that
// outlived the previous daemon, records the real exit of containers that
// ended meanwhile, cleans what a crash or reboot left half done, and decides
// which containers to start again.
func (d *Daemon) reconcileContainers() error {
	ctx := context.Background()
	known := map[string]bool{}
	var toStart, afterExits []*container
	for _, c := range d.containers.list() {
		known[c.rec.ID] = true
		c.mu.Lock()
		log := logrus.WithField("container", c.rec.ID[:12])
		status := c.rec.State.Status
		wasActive := status == stateRunning || status == statePaused || status == stateRestarting ||
			(status == stateCreated && dirExists(d.bundleDir(c.rec.ID)))
		if status == stateRemoving {
			c.mu.Unlock()
			log.Info("finishing interrupted removal")
			_ = d.removeContainer(ctx, c, true, false)
			continue
		}
		if !wasActive {
			if c.rec.HostConfig.AutoRemove && d.layerLost(c) {
				// Created with --rm, its volatile layer (not synced) was
				// lost with the machine: it could only fail to start.
				c.mu.Unlock()
				log.Warn("removing a --rm container whose writable layer a crash lost")
				_ = d.removeContainer(ctx, c, true, true)
				continue
			}
			boot := restart.BootState{ManuallyStopped: c.rec.State.ManuallyStopped, ExitCode: c.rec.State.ExitCode, NeverStarted: status == stateCreated}
			if restart.StartAtBoot(policyOf(c), boot) {
				toStart = append(toStart, c)
			}
			c.mu.Unlock()
			continue
		}
		bundle := d.bundleDir(c.rec.ID)
		cl, err := shim.Connect(ctx, bundle)
		if err == nil {
			st, serr := cl.State(ctx)
			if serr == nil && (st.Status == shim.Running || st.Status == shim.Paused) {
				c.shim = cl
				c.rec.State.Pid = st.Pid
				if st.Status == shim.Paused {
					c.rec.State.Status = statePaused
				} else {
					c.rec.State.Status = stateRunning
				}
				_ = d.containers.save(&c.rec)
				d.monitor(c, cl)
				c.mu.Unlock()
				log.Info("re-attached to running container")
				continue
			}
			if serr == nil && st.Status == shim.Created {
				// Held for an attach that the old daemon never saw, or a
				// restart prepared during its back-off wait.
				c.shim = cl
				c.rec.State.Status = stateCreated
				c.mu.Unlock()
				_ = d.begin(ctx, c)
				continue
			}
			if serr == nil && st.Status == shim.Stopped {
				c.shim = cl
				c.rec.State.Status = stateRunning
				c.mu.Unlock()
				log.WithField("exitCode", st.ExitCode).Info("container exited while ctrd was away")
				d.handleExit(c, cl, shim.ExitStatus{Code: st.ExitCode, ExitedAt: st.ExitedAt})
				continue
			}
			cl.Close()
		}
		if status == stateRestarting {
			// It was in its back-off wait: its exit is already recorded;
			// its policy decides again now.
			d.releaseRuntime(c, true)
			c.rec.State.Status = stateExited
			_ = d.containers.save(&c.rec)
			afterExits = append(afterExits, c)
			c.mu.Unlock()
			continue
		}
		// The shim is gone (host reboot, or it was killed).
		code, msg := 137, "container shim was gone when ctrd started"
		if st, ok, _ := shim.ReadExitFile(bundle); ok {
			code, msg = st.Code, st.Error
		}
		d.releaseRuntime(c, true)
		c.rec.State.Status = stateExited
		c.rec.State.Pid = 0
		c.rec.State.ExitCode = code
		c.rec.State.Error = msg
		if c.rec.State.FinishedAt.IsZero() || c.rec.State.FinishedAt.Before(c.rec.State.StartedAt) {
			c.rec.State.FinishedAt = time.Now().UTC()
		}
		_ = d.containers.save(&c.rec)
		log.WithField("exitCode", code).Info("container found stopped")
		boot := restart.BootState{ManuallyStopped: c.rec.State.ManuallyStopped, ExitCode: code, WasRunning: true}
		if c.rec.HostConfig.AutoRemove {
			c.mu.Unlock()
			_ = d.removeContainer(ctx, c, true, true)
			continue
		}
		if restart.StartAtBoot(policyOf(c), boot) {
			toStart = append(toStart, c)
		}
		c.mu.Unlock()
	}
	d.cleanupOrphans(known)
	// Firewall rules and veths: exactly those of running containers.
	running := map[string]string{}
	for _, c := range d.containers.list() {
		c.mu.Lock()
		if c.shim != nil {
			running[c.rec.ID] = d.network.NetNSPath(c.rec.ID)
		}
		c.mu.Unlock()
	}
	if err := d.network.Reconcile(running); err != nil {
		logrus.WithError(err).Warn("reconcile networking")
	}
	for _, c := range afterExits {
		d.afterExit(c, c.rec.State.ExitCode, 0)
	}
	if len(toStart) > 0 {
		go func() {
			for _, c := range toStart {
				if _, err := d.startContainer(context.Background(), c, false); err != nil {
					logrus.WithError(err).WithField("container", c.rec.ID[:12]).Warn("start at boot failed")
				}
			}
		}()
	}
	return nil
}

// cleanupOrphans removes runtime state, files and writable layers of
// containers that have no record (a crash during create or remove).
func (d *Daemon) cleanupOrphans(known map[string]bool) {
	if ents, err := os.ReadDir(filepath.Join(d.cfg.ExecRoot, "containers")); err == nil {
		for _, e := range ents {
			if id := e.Name(); !known[id] {
				logrus.WithField("container", id).Info("removing orphan runtime state")
				_ = shim.Cleanup(d.stateRoot(), d.bundleDir(id), id)
				_ = snapshot.Unmount(d.rootfsDir(id))
				_ = os.RemoveAll(d.bundleDir(id))
			}
		}
	}
	if ents, err := os.ReadDir(d.network.NetNSDir()); err == nil {
		for _, e := range ents {
			if id := e.Name(); !known[id] {
				_ = d.network.RemoveNetNS(d.network.NetNSPath(id))
			}
		}
	}
	if ents, err := os.ReadDir(filepath.Join(d.cfg.DataRoot, "containers")); err == nil {
		for _, e := range ents {
			if id := e.Name(); !known[id] {
				_ = os.RemoveAll(d.containerDir(id))
			}
		}
	}
	sn := d.images.Snapshotter()
	var orphans []string
	_ = sn.Walk(func(i snapshot.Info) error {
		if i.Kind == snapshot.KindActive && !strings.HasPrefix(i.Name, "extract-") && i.Labels["container"] != "" && !known[i.Name] {
			orphans = append(orphans, i.Name)
		}
		return nil
	})
	for _, k := range orphans {
		logrus.WithField("snapshot", k).Info("removing orphan writable layer")
		_ = sn.Remove(k)
	}
}

// layerLost tells whether c's writable layer is gone (Cleanup drops the
// record of a snapshot whose directory a crash lost).
func (d *Daemon) layerLost(c *container) bool {
	_, err := d.images.Snapshotter().Stat(c.rec.ID)
	return errors.Is(err, snapshot.ErrNotFound)
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
