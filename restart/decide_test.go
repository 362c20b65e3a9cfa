package restart

import (
	"fmt"
	"testing"
	"time"
)

// TestShouldRestartMatrix walks every policy × exit code (0, 1, 137) ×
// manual stop × max retries reached × daemon shutting down, against an
// oracle written from Docker's documentation.
func TestShouldRestartMatrix(t *testing.T) {
	policies := []Policy{
		{Name: No},
		{Name: OnFailure},
		{Name: OnFailure, MaximumRetryCount: 3},
		{Name: Always},
		{Name: UnlessStopped},
	}
	n := 0
	for _, p := range policies {
		for _, code := range []int{0, 1, 137} {
			for _, manual := range []bool{false, true} {
				for _, maxReached := range []bool{false, true} {
					for _, shutdown := range []bool{false, true} {
						count := 1
						if maxReached {
							count = 3 // = MaximumRetryCount for on-failure:3; irrelevant otherwise
						}
						e := ExitEvent{ExitCode: code, ManuallyStopped: manual, RestartCount: count, RanFor: time.Second, DaemonShuttingDown: shutdown}

						var want bool
						switch {
						case shutdown || manual:
							want = false
						case p.Name == No:
							want = false
						case p.Name == Always || p.Name == UnlessStopped:
							want = true
						case p.Name == OnFailure:
							limited := p.MaximumRetryCount > 0 && maxReached
							want = code != 0 && !limited
						}
						name := fmt.Sprintf("%s/exit=%d/manual=%v/max=%v/shutdown=%v", p, code, manual, maxReached, shutdown)
						if got := ShouldRestart(p, e); got != want {
							t.Errorf("%s: ShouldRestart = %v, want %v", name, got, want)
						}
						n++
					}
				}
			}
		}
	}
	if n != 5*3*2*2*2 {
		t.Fatalf("matrix has %d cases", n)
	}
}

func TestShouldRestartSpotChecks(t *testing.T) {
	onf3 := Policy{Name: OnFailure, MaximumRetryCount: 3}
	cases := []struct {
		name string
		p    Policy
		e    ExitEvent
		want bool
	}{
		{"zero policy is no", Policy{}, ExitEvent{ExitCode: 1}, false},
		{"on-failure exit 0", onf3, ExitEvent{ExitCode: 0}, false},
		{"on-failure first failure", onf3, ExitEvent{ExitCode: 1, RestartCount: 0}, true},
		{"on-failure third restart allowed", onf3, ExitEvent{ExitCode: 1, RestartCount: 2}, true},
		{"on-failure after 3 restarts", onf3, ExitEvent{ExitCode: 1, RestartCount: 3}, false},
		{"on-failure unlimited", Policy{Name: OnFailure}, ExitEvent{ExitCode: 1, RestartCount: 1000}, true},
		{"on-failure kill -9 from host", onf3, ExitEvent{ExitCode: 137}, true},
		{"on-failure negative exit", onf3, ExitEvent{ExitCode: -1}, true},
		{"always clean exit", Policy{Name: Always}, ExitEvent{ExitCode: 0, RestartCount: 99}, true},
		{"always ctr stop", Policy{Name: Always}, ExitEvent{ExitCode: 137, ManuallyStopped: true}, false},
		{"unless-stopped crash", Policy{Name: UnlessStopped}, ExitEvent{ExitCode: 2}, true},
		{"always daemon shutdown", Policy{Name: Always}, ExitEvent{ExitCode: 143, DaemonShuttingDown: true}, false},
	}
	for _, c := range cases {
		if got := ShouldRestart(c.p, c.e); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// TestOnFailureEndsWithRestartCount simulates the e2e case: on-failure:3 on a
// container that always exits 1 ends Exited with RestartCount 3.
func TestOnFailureEndsWithRestartCount(t *testing.T) {
	p, _ := ParsePolicy("on-failure:3")
	count := 0
	for ShouldRestart(p, ExitEvent{ExitCode: 1, RestartCount: count}) {
		count++
		if count > 10 {
			t.Fatal("runaway")
		}
	}
	if count != 3 {
		t.Fatalf("RestartCount = %d, want 3", count)
	}
}

func TestStartAtBootMatrix(t *testing.T) {
	policies := []Policy{{}, {Name: No}, {Name: OnFailure}, {Name: OnFailure, MaximumRetryCount: 2}, {Name: Always}, {Name: UnlessStopped}}
	for _, p := range policies {
		for _, manual := range []bool{false, true} {
			for _, wasRunning := range []bool{false, true} {
				for _, code := range []int{0, 1, 137} {
					s := BootState{ManuallyStopped: manual, ExitCode: code, WasRunning: wasRunning}
					var want bool
					switch {
					case p.IsAlways():
						want = true
					case p.IsUnlessStopped():
						want = !manual
					}
					if got := StartAtBoot(p, s); got != want {
						t.Errorf("%s manual=%v wasRunning=%v exit=%d: StartAtBoot = %v, want %v", p, manual, wasRunning, code, got, want)
					}
					s.NeverStarted = true
					if StartAtBoot(p, s) {
						t.Errorf("%s: never-started container started at boot", p)
					}
				}
			}
		}
	}
}

func TestBackoffSequence(t *testing.T) {
	var b Backoff
	if b.Current() != 0 {
		t.Fatal("zero Backoff has a delay")
	}
	want := []time.Duration{
		100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond, 12800 * time.Millisecond,
		25600 * time.Millisecond, 51200 * time.Millisecond, time.Minute, time.Minute, time.Minute,
	}
	for i, w := range want {
		if got := b.Next(50 * time.Millisecond); got != w {
			t.Fatalf("step %d: %v, want %v", i, got, w)
		}
		if b.Current() != w {
			t.Fatalf("Current = %v, want %v", b.Current(), w)
		}
	}
	// A run of 10 s or more resets; 9.99 s does not.
	if got := b.Next(ResetAfter - time.Millisecond); got != time.Minute {
		t.Fatalf("short run: %v", got)
	}
	if got := b.Next(ResetAfter); got != InitialDelay {
		t.Fatalf("after a 10 s run: %v, want %v", got, InitialDelay)
	}
	if got := b.Next(0); got != 200*time.Millisecond {
		t.Fatalf("after reset, second: %v", got)
	}
	b.Reset()
	if got := b.Next(0); got != InitialDelay {
		t.Fatalf("after Reset: %v", got)
	}
	// Total wait of a restart storm over its first minute stays small in
	// number of restarts: 100ms..51.2s sums to ~102 s for 10 restarts.
	var storm Backoff
	var total time.Duration
	restarts := 0
	for total < time.Minute {
		total += storm.Next(0)
		restarts++
	}
	if restarts > 10 {
		t.Fatalf("%d restarts in the first minute of a storm", restarts)
	}
}
