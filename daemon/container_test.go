package daemon

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ctrd/ctrd/api/errdefs"
	digest "github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

func newTestContainerStore(t *testing.T) *containerStore {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A deadlocked test would hang here, in Close.
		closed := make(chan struct{})
		go func() { db.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Error("a database transaction never ended")
		}
	})
	s, err := newContainerStore(db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testContainer(id, name string, image digest.Digest) *container {
	return &container{
		rec:     containerRecord{ID: id, Name: name, Image: image},
		changed: make(chan struct{}),
		removed: make(chan struct{}),
	}
}

// commitIn is reserve's commit as createContainer runs it: one write
// transaction with the caller's own changes.
func commitIn(db *bolt.DB) func(put func(*bolt.Tx) error) error {
	return func(put func(*bolt.Tx) error) error { return db.Update(put) }
}

// A container being recorded holds its name and its image, but is not
// found until its record has committed; a failed commit leaves nothing.
func TestReserve(t *testing.T) {
	s := newTestContainerStore(t)
	img := digest.FromString("image")
	c := testContainer("aaaa", "web", img)
	failed := errors.New("the layer could not be prepared")
	err := s.reserve(c, func(put func(*bolt.Tx) error) error {
		if !s.nameTaken("web") {
			t.Error("name not taken while the record is written")
		}
		if s.usingImage(img) != "aaaa" {
			t.Error("image not in use while the record is written")
		}
		if _, err := s.get("web"); !errdefs.IsNotFound(err) {
			t.Errorf("get while the record is written = %v, want not found", err)
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("reserve = %v, want the commit's error", err)
	}
	if s.nameTaken("web") || s.usingImage(img) != "" {
		t.Fatal("a failed reserve left its name or image taken")
	}

	if err := s.reserve(c, commitIn(s.db)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.get("web"); err != nil || got != c {
		t.Fatalf("get = %v, %v", got, err)
	}
	other := testContainer("bbbb", "web", img)
	if err := s.reserve(other, commitIn(s.db)); !errdefs.IsConflict(err) {
		t.Fatalf("reserve of a taken name = %v, want a conflict", err)
	}
	if s.nameTaken("other") {
		t.Fatal("nameTaken of a free name")
	}
}

// The image store asks usingImage inside its own write transaction (image
// removal). A create or rename waiting for that transaction must not hold
// what usingImage needs: both would wait forever.
func TestContainerStoreLockOrder(t *testing.T) {
	s := newTestContainerStore(t)
	img := digest.FromString("image")
	renamed := testContainer("cccc", "old", img)
	if err := s.reserve(renamed, commitIn(s.db)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		write func() error
		taken string
	}{
		{"reserve", func() error { return s.reserve(testContainer("aaaa", "web", img), commitIn(s.db)) }, "web"},
		{"rename", func() error { return s.rename(renamed, "new") }, "new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inTx, release := make(chan struct{}), make(chan struct{})
			var releaseOnce sync.Once
			defer releaseOnce.Do(func() { close(release) })
			imageTx := make(chan string, 1)
			go func() {
				// The image store's transaction, begun first.
				_ = s.db.Update(func(*bolt.Tx) error {
					close(inTx)
					<-release
					imageTx <- s.usingImage(img)
					return nil
				})
			}()
			<-inTx
			written := make(chan error, 1)
			go func() { written <- tc.write() }()
			// Wait until the write has claimed its name: it is now
			// waiting for the image store's transaction.
			claimed := make(chan struct{})
			go func() {
				for !s.nameTaken(tc.taken) {
					time.Sleep(time.Millisecond)
				}
				close(claimed)
			}()
			select {
			case <-claimed:
			case <-time.After(10 * time.Second):
				t.Fatal("the name was never claimed")
			}
			releaseOnce.Do(func() { close(release) })
			select {
			case user := <-imageTx:
				if user == "" {
					t.Error("usingImage inside the image store's transaction saw no container")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("deadlock: usingImage waits for a write that waits for the image store's transaction")
			}
			select {
			case err := <-written:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the write never finished")
			}
		})
	}
	if t.Failed() {
		return // deadlocked: the store can no longer be asked
	}
	if got, err := s.get("new"); err != nil || got != renamed {
		t.Fatalf("get of the new name = %v, %v", got, err)
	}
	if s.nameTaken("old") {
		t.Fatal("the old name is still taken after the rename")
	}
}
