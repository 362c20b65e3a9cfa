package shim

import (
	"bytes"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// reaper reaps the shim's children that nobody waits for. The shim is a
// child subreaper, so processes orphaned by a container that shares the
// host's pid namespace end up here. Processes libcontainer spawns and
// waits for are protected: their pids are registered (known) and every
// libcontainer call that spawns runs with the reaper locked.
type reaper struct {
	mu    sync.Mutex
	known map[int]struct{}
}

var (
	theReaper  *reaper
	reaperOnce sync.Once
)

// processReaper is the process's reaper, made on first use: a shim may
// serve several containers one after the other (see standby).
func processReaper() *reaper {
	reaperOnce.Do(func() { theReaper = newReaper() })
	return theReaper
}

func newReaper() *reaper {
	r := &reaper{known: make(map[int]struct{})}
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, unix.SIGCHLD)
	go func() {
		for range ch {
			time.Sleep(sweepDelay)
			for len(ch) > 0 {
				<-ch // covered by this sweep
			}
			r.sweep()
		}
	}()
	return r
}

// sweepDelay is how long after a SIGCHLD the sweep runs. Not at once: at a
// container's exit, the shim reports the exit to ctrd and to the attached
// clients first, and the sweep (which reads a file per thread of the shim)
// would hold that up. Only orphans of a container sharing the host's pid
// namespace are ever reaped here, and a zombie waiting that long costs
// nothing.
const sweepDelay = 20 * time.Millisecond

// spawn runs fn (a libcontainer call that forks) with sweeping suspended;
// fn returns the pid to keep away from the sweeper (0 for none).
func (r *reaper) spawn(fn func() (int, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := fn()
	if pid > 0 {
		r.known[pid] = struct{}{}
	}
	return err
}

func (r *reaper) forget(pid int) {
	r.mu.Lock()
	delete(r.known, pid)
	r.mu.Unlock()
}

func (r *reaper) sweep() {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Children are listed per thread that forked them. (No Glob: it
	// would lstat every match, and this runs on every SIGCHLD.)
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range bytes.Fields(b) {
			pid, err := strconv.Atoi(string(f))
			if err != nil {
				continue
			}
			if _, ok := r.known[pid]; ok || !isZombie(pid) {
				continue
			}
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// dead reports whether the process pid has exited: gone, or a zombie whose
// threads all exited (a thread group leader shows as a zombie while other
// threads still hold its files).
func dead(pid int) bool {
	if !isZombie(pid) {
		_, err := os.Stat("/proc/" + strconv.Itoa(pid))
		return err != nil
	}
	tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	return len(tasks) <= 1
}
