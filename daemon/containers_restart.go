package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/ctrd/ctrd/restart"
	"github.com/sirupsen/logrus"
)

func policyOf(c *container) restart.Policy {
	rp := c.rec.HostConfig.RestartPolicy
	return restart.Policy{Name: rp.Name, MaximumRetryCount: rp.MaximumRetryCount}
}

// afterExit applies the restart policy to a container that just exited.
func (d *Daemon) afterExit(c *container, exitCode int, ranFor time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.State.Status != stateExited {
		return
	}
	ev := restart.ExitEvent{
		ExitCode:           exitCode,
		ManuallyStopped:    c.rec.State.ManuallyStopped,
		RestartCount:       c.rec.RestartCount,
		RanFor:             ranFor,
		DaemonShuttingDown: d.shuttingDown(),
	}
	if !restart.ShouldRestart(policyOf(c), ev) {
		return
	}
	// The back-off counts from the exit, not from the end of its cleanup.
	delay := c.backoff.Next(ranFor) - time.Since(c.rec.State.FinishedAt)
	if delay < 0 {
		delay = 0
	}
	d.scheduleRestartLocked(c, delay)
}

// scheduleRestartLocked marks c restarting and starts it after delay.
func (d *Daemon) scheduleRestartLocked(c *container, delay time.Duration) {
	c.rec.State.Status = stateRestarting
	_ = d.containers.save(&c.rec)
	c.notifyLocked()
	id := c.rec.ID
	logrus.WithFields(logrus.Fields{"container": id[:12], "delay": delay}).Info("restarting container")
	// Prepare the new run (mounts, network, shim, container created) during
	// the back-off wait, so that the process runs as soon as it ends.
	go func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.rec.State.Status != stateRestarting || c.shim != nil {
			return
		}
		if err := d.prepareLocked(context.Background(), c); err != nil {
			logrus.WithError(err).WithField("container", id[:12]).Debug("prepare restart")
		}
	}()
	d.restarts.Schedule(id, delay, func() {
		c.mu.Lock()
		if c.rec.State.Status != stateRestarting {
			c.mu.Unlock()
			return
		}
		c.rec.RestartCount++
		c.mu.Unlock()
		if _, err := d.startContainer(context.Background(), c, false); err != nil {
			logrus.WithError(err).WithField("container", id[:12]).Warn("restart failed")
			c.mu.Lock()
			if c.rec.State.Status == stateRestarting || c.rec.State.Status == stateCreated {
				c.rec.State.Status = stateExited
				c.rec.State.FinishedAt = time.Now().UTC()
				_ = d.containers.save(&c.rec)
				c.notifyLocked()
			}
			c.mu.Unlock()
			d.afterExit(c, c.rec.State.ExitCode, 0)
		}
	})
}

// updateRestartPolicy is `ctr update --restart`.
func (d *Daemon) updateRestartPolicy(c *container, s string) error {
	p, err := restart.ParsePolicy(s)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := restart.CheckAutoRemove(p, c.rec.HostConfig.AutoRemove); err != nil {
		return err
	}
	c.rec.HostConfig.RestartPolicy.Name = p.Name
	c.rec.HostConfig.RestartPolicy.MaximumRetryCount = p.MaximumRetryCount
	if err := d.containers.save(&c.rec); err != nil {
		return fmt.Errorf("save container: %w", err)
	}
	return nil
}
