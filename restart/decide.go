package restart

import "time"

// ExitEvent describes a container exit seen while the daemon runs (or found,
// with its real exit code, by the boot-time reconcile through a shim that
// outlived the daemon).
type ExitEvent struct {
	ExitCode           int
	ManuallyStopped    bool          // ctr stop / ctr kill by the user
	RestartCount       int           // restarts done so far (Docker's RestartCount)
	RanFor             time.Duration // how long this run lasted; feeds Backoff.Next
	DaemonShuttingDown bool
}

// ShouldRestart decides whether a container that just exited is restarted.
// The caller increments RestartCount when it restarts the container and
// resets it to 0 when the user starts the container.
func ShouldRestart(p Policy, e ExitEvent) bool {
	if e.DaemonShuttingDown || e.ManuallyStopped {
		return false
	}
	switch {
	case p.IsAlways(), p.IsUnlessStopped():
		return true
	case p.IsOnFailure():
		if p.MaximumRetryCount > 0 && e.RestartCount >= p.MaximumRetryCount {
			return false
		}
		return e.ExitCode != 0
	default:
		return false
	}
}

// BootState describes, at daemon start, a container found not running and
// with no live shim (host reboot, or its shim died with the daemon). A
// container whose shim outlived the daemon and reports an exit is an
// ExitEvent instead, decided by ShouldRestart with its real exit code.
type BootState struct {
	ManuallyStopped bool // the last stop was ctr stop / ctr kill by the user
	ExitCode        int
	WasRunning      bool // running when the daemon last knew it (killed by a reboot or crash)
	NeverStarted    bool // created (ctr create) but never started: never started at boot
}

// StartAtBoot decides whether the daemon starts the container when it
// starts: "always" yes (even after a user stop), "unless-stopped" unless the
// user stopped it, "on-failure" and "no" never. ExitCode and WasRunning do
// not change the outcome; they are kept for the record and for logging.
func StartAtBoot(p Policy, s BootState) bool {
	if s.NeverStarted {
		return false
	}
	switch {
	case p.IsAlways():
		return true
	case p.IsUnlessStopped():
		return !s.ManuallyStopped
	default:
		return false
	}
}

// Back-off parameters (Docker's).
const (
	InitialDelay = 100 * time.Millisecond
	MaxDelay     = time.Minute
	ResetAfter   = 10 * time.Second // a run at least this long resets the delay
)

// Backoff computes the delay before each restart of one container: 100 ms,
// doubling up to one minute, back to 100 ms once a run lasted 10 s. The zero
// value is ready to use. A Backoff is not safe for concurrent use; keep it
// under the container's lock.
type Backoff struct {
	delay time.Duration
}

// Next returns the delay before the restart that follows a run of ranFor.
func (b *Backoff) Next(ranFor time.Duration) time.Duration {
	if ranFor >= ResetAfter {
		b.delay = 0
	}
	switch {
	case b.delay <= 0:
		b.delay = InitialDelay
	case b.delay < MaxDelay:
		b.delay *= 2
	}
	if b.delay > MaxDelay {
		b.delay = MaxDelay
	}
	return b.delay
}

// Current returns the last delay handed out (0 before the first).
func (b *Backoff) Current() time.Duration { return b.delay }

// Reset starts the sequence again (a user start of the container).
func (b *Backoff) Reset() { b.delay = 0 }
