package restart

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestScheduleRuns(t *testing.T) {
	s := NewSupervisor()
	done := make(chan time.Time, 1)
	begin := time.Now()
	s.Schedule("c1", 20*time.Millisecond, func() { done <- time.Now() })
	since, ok := s.Pending("c1")
	if !ok || since.Before(begin) || time.Since(since) > time.Second {
		t.Fatalf("Pending = %v, %v", since, ok)
	}
	if due, ok := s.Due("c1"); !ok || due.Sub(since) != 20*time.Millisecond {
		t.Fatalf("Due = %v, %v", due, ok)
	}
	select {
	case at := <-done:
		if at.Sub(begin) < 20*time.Millisecond {
			t.Fatalf("started after %v, before its delay", at.Sub(begin))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("start never called")
	}
	if _, ok := s.Pending("c1"); ok {
		t.Fatal("still pending after start")
	}
	if s.Cancel("c1") {
		t.Fatal("Cancel after start reported a pending restart")
	}
}

func TestCancelStopsStart(t *testing.T) {
	s := NewSupervisor()
	var called atomic.Bool
	s.Schedule("c1", 30*time.Millisecond, func() { called.Store(true) })
	if !s.Cancel("c1") {
		t.Fatal("Cancel returned false for a pending restart")
	}
	if _, ok := s.Pending("c1"); ok {
		t.Fatal("pending after Cancel")
	}
	if s.Cancel("c1") {
		t.Fatal("second Cancel returned true")
	}
	time.Sleep(80 * time.Millisecond)
	if called.Load() {
		t.Fatal("start called after Cancel")
	}
}

func TestCancelDuringLongBackoffIsImmediate(t *testing.T) {
	s := NewSupervisor()
	s.Schedule("c1", time.Minute, func() { t.Error("started") })
	t0 := time.Now()
	if !s.Cancel("c1") {
		t.Fatal("not pending")
	}
	if d := time.Since(t0); d > 100*time.Millisecond {
		t.Fatalf("Cancel took %v", d)
	}
}

func TestRescheduleReplaces(t *testing.T) {
	s := NewSupervisor()
	var first, second atomic.Int32
	done := make(chan struct{})
	s.Schedule("c1", 20*time.Millisecond, func() { first.Add(1) })
	s.Schedule("c1", 40*time.Millisecond, func() { second.Add(1); close(done) })
	<-done
	time.Sleep(40 * time.Millisecond)
	if first.Load() != 0 || second.Load() != 1 {
		t.Fatalf("first=%d second=%d", first.Load(), second.Load())
	}
}

func TestZeroAndNegativeDelay(t *testing.T) {
	s := NewSupervisor()
	done := make(chan struct{}, 2)
	s.Schedule("a", 0, func() { done <- struct{}{} })
	s.Schedule("b", -time.Second, func() { done <- struct{}{} })
	for range 2 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("start not called")
		}
	}
}

func TestIndependentIDs(t *testing.T) {
	s := NewSupervisor()
	var a, b atomic.Bool
	done := make(chan struct{})
	s.Schedule("a", 20*time.Millisecond, func() { a.Store(true) })
	s.Schedule("b", 20*time.Millisecond, func() { b.Store(true); close(done) })
	s.Cancel("a")
	<-done
	time.Sleep(20 * time.Millisecond)
	if a.Load() || !b.Load() {
		t.Fatalf("a=%v b=%v", a.Load(), b.Load())
	}
}

func TestShutdown(t *testing.T) {
	s := NewSupervisor()
	var called atomic.Int32
	for i := range 5 {
		s.Schedule(fmt.Sprint(i), 20*time.Millisecond, func() { called.Add(1) })
	}
	if ids := s.Shutdown(); len(ids) != 5 {
		t.Fatalf("Shutdown cancelled %v", ids)
	}
	s.Schedule("late", 0, func() { called.Add(1) })
	if _, ok := s.Pending("late"); ok {
		t.Fatal("Schedule after Shutdown is pending")
	}
	time.Sleep(60 * time.Millisecond)
	if called.Load() != 0 {
		t.Fatalf("%d starts after Shutdown", called.Load())
	}
}

// TestCancelScheduleRace: several ids in parallel, each round racing the
// timer against a Cancel from another goroutine. Exactly one of "start ran"
// and "Cancel returned true" must happen per round, never both, never
// neither. Run with -race.
func TestCancelScheduleRace(t *testing.T) {
	s := NewSupervisor()
	const ids, rounds = 8, 400
	var wg sync.WaitGroup
	for w := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("c", w)
			for r := range rounds {
				var ran atomic.Bool
				done := make(chan struct{})
				s.Schedule(id, time.Duration(r%40)*time.Microsecond, func() { ran.Store(true); close(done) })
				cancelled := make(chan bool)
				go func() { cancelled <- s.Cancel(id) }()
				if <-cancelled {
					time.Sleep(100 * time.Microsecond)
					if ran.Load() {
						t.Errorf("%s round %d: Cancel returned true but start ran", id, r)
						return
					}
					continue
				}
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Errorf("%s round %d: Cancel returned false but start never ran", id, r)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestSharedIDStress lets many goroutines Schedule, Cancel and read the same
// few ids at once, for the race detector; then it checks nothing is left
// pending after a final Cancel and no start runs afterwards.
func TestSharedIDStress(t *testing.T) {
	s := NewSupervisor()
	var starts atomic.Int64
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 300 {
				id := fmt.Sprint("c", (w+r)%3)
				switch r % 4 {
				case 0, 1:
					s.Schedule(id, time.Duration(r%5)*time.Microsecond, func() { starts.Add(1) })
				case 2:
					s.Cancel(id)
				case 3:
					s.Pending(id)
					s.Due(id)
				}
			}
		}()
	}
	wg.Wait()
	for i := range 3 {
		s.Cancel(fmt.Sprint("c", i))
	}
	// A start already launched before the final Cancel (Cancel returned
	// false for it) may still be finishing; let it.
	time.Sleep(10 * time.Millisecond)
	before := starts.Load()
	time.Sleep(20 * time.Millisecond)
	if starts.Load() != before {
		t.Fatalf("starts ran after everything was cancelled: %d -> %d", before, starts.Load())
	}
	for i := range 3 {
		if _, ok := s.Pending(fmt.Sprint("c", i)); ok {
			t.Fatal("still pending")
		}
	}
}
