package restart

import (
	"sync"
	"time"
)

// Supervisor runs delayed restarts, one pending restart per container id at
// most. It knows nothing of containers: the daemon hands it a start callback.
// One Supervisor per daemon; safe for concurrent use.
type Supervisor struct {
	mu      sync.Mutex
	pending map[string]*entry
	closed  bool
}

type entry struct {
	since time.Time
	due   time.Time
	timer *time.Timer
}

// NewSupervisor returns an empty supervisor.
func NewSupervisor() *Supervisor {
	return &Supervisor{pending: make(map[string]*entry)}
}

// Schedule arranges for start to be called, in its own goroutine, after
// delay, unless Cancel(id) or Shutdown happens first. A restart already
// pending for id is replaced. After Shutdown, Schedule does nothing.
func (s *Supervisor) Schedule(id string, delay time.Duration, start func()) {
	if start == nil {
		panic("restart: Schedule with a nil start function")
	}
	if delay < 0 {
		delay = 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if old, ok := s.pending[id]; ok {
		old.timer.Stop()
	}
	now := time.Now()
	e := &entry{since: now, due: now.Add(delay)}
	s.pending[id] = e
	// The timer's function runs in its own goroutine. It only starts the
	// container if it is still the pending entry for id: Cancel, a newer
	// Schedule and Shutdown all remove or replace it under s.mu, so once
	// they return this start can no longer happen.
	e.timer = time.AfterFunc(delay, func() {
		s.mu.Lock()
		if s.pending[id] != e {
			s.mu.Unlock()
			return
		}
		delete(s.pending, id)
		s.mu.Unlock()
		start()
	})
}

// Cancel drops the restart pending for id. It returns true if one was
// pending: then its start function will not be called. False means nothing
// was pending, or its start function has already been launched (the caller
// must then stop the container it starts, under its own container lock).
func (s *Supervisor) Cancel(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.pending[id]
	if !ok {
		return false
	}
	delete(s.pending, id)
	e.timer.Stop()
	return true
}

// Pending reports whether a restart is waiting for id, and since when (the
// time it was scheduled, i.e. about when the container exited), for `ctr ps`:
// "Restarting (1) 2 seconds ago".
func (s *Supervisor) Pending(id string) (since time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.pending[id]
	if !ok {
		return time.Time{}, false
	}
	return e.since, true
}

// Due returns when the pending restart of id fires.
func (s *Supervisor) Due(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.pending[id]
	if !ok {
		return time.Time{}, false
	}
	return e.due, true
}

// Shutdown cancels every pending restart and makes later Schedule calls
// no-ops (daemon shutdown). It returns the ids whose restart was cancelled.
func (s *Supervisor) Shutdown() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	ids := make([]string, 0, len(s.pending))
	for id, e := range s.pending {
		e.timer.Stop()
		ids = append(ids, id)
	}
	clear(s.pending)
	return ids
}
