package daemon

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ctrd/ctrd/api/errdefs"
	"github.com/ctrd/ctrd/api/types"
	"github.com/ctrd/ctrd/daemon/volumes"
	"github.com/ctrd/ctrd/restart"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

var bucketContainers = []byte("containers") // ID -> containerRecord (JSON)

// Container states, in Docker's words.
const (
	stateCreated    = "created"
	stateRunning    = "running"
	statePaused     = "paused"
	stateRestarting = "restarting"
	stateRemoving   = "removing"
	stateExited     = "exited"
	stateDead       = "dead"
)

// containerState is the persisted part of a container's state.
type containerState struct {
	Status     string    `json:"status"`
	Pid        int       `json:"pid,omitempty"`
	ExitCode   int       `json:"exitCode"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitempty"`
	FinishedAt time.Time `json:"finishedAt,omitempty"`
	// ManuallyStopped: the user stopped or killed it (restart policies).
	ManuallyStopped bool `json:"manuallyStopped,omitempty"`
	OOMKilled       bool `json:"oomKilled,omitempty"`
}

// containerRecord is everything ctrd keeps about a container.
type containerRecord struct {
	ID            string             `json:"id"`
	Name          string             `json:"name"`
	Created       time.Time          `json:"created"`
	Image         digest.Digest      `json:"image"`
	ImageName     string             `json:"imageName"`
	Config        types.Config       `json:"config"`
	HostConfig    types.HostConfig   `json:"hostConfig"`
	EntrypointSet bool               `json:"entrypointSet,omitempty"`
	Path          string             `json:"path"`
	Args          []string           `json:"args"`
	State         containerState     `json:"state"`
	RestartCount  int                `json:"restartCount"`
	Mounts        []types.MountPoint `json:"mounts,omitempty"`
	// MountSpecs are the container's resolved mounts (anonymous volumes
	// named), in order.
	MountSpecs []volumes.MountSpec `json:"mountSpecs,omitempty"`
	// AnonymousVolumes are removed with `rm -v`.
	AnonymousVolumes []string `json:"anonymousVolumes,omitempty"`
}

// container is a record plus its live state in this daemon.
type container struct {
	mu  sync.Mutex
	rec containerRecord
	// changed is closed and replaced on every state change (waiters).
	changed chan struct{}
	// removed is closed when the container is gone; final is its state
	// then, set before and read without mu after (the remover may hold
	// mu a while longer, releasing what the container held).
	removed chan struct{}
	final   containerState
	// shim talks to the container's shim while it runs.
	shim shimHandle
	// beginTimer runs a start held for attach if no client begins it.
	beginTimer *time.Timer
	// attachNetwork, set while a run is prepared, plugs the container's
	// network namespace into its network (see prepareLocked).
	attachNetwork func() error
	// backoff spaces restarts of a container that keeps exiting.
	backoff restart.Backoff
	// manualRestart is set while `restart` stops the container to start
	// it again: its exit then does not remove a --rm container.
	manualRestart bool
}

func (c *container) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// containerStore indexes containers by ID and name.
type containerStore struct {
	db *bolt.DB
	mu sync.RWMutex
	m  map[string]*container
	// names maps a name (without "/") to an ID, including the names of
	// containers being recorded or renamed.
	names map[string]string
	// creating holds the containers whose records are being written
	// (reserve): their names are taken and their images in use, but they
	// are not found yet.
	creating map[string]*container
}

// Lock order: a database write transaction may take mu (the image store
// asks usingImage inside its own), so mu is never held while waiting for
// one.

func newContainerStore(db *bolt.DB) (*containerStore, error) {
	s := &containerStore{db: db, m: map[string]*container{}, names: map[string]string{}, creating: map[string]*container{}}
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketContainers)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var rec containerRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("container %s: corrupt record: %w", k, err)
			}
			s.add(&container{rec: rec, changed: make(chan struct{}), removed: make(chan struct{})})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load containers: %w", err)
	}
	return s, nil
}

func (s *containerStore) add(c *container) {
	s.m[c.rec.ID] = c
	s.names[c.rec.Name] = c.rec.ID
}

// save persists a record (call with c.mu held or before c is shared).
func (s *containerStore) save(rec *containerRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).Put([]byte(rec.ID), b)
	})
}

// reserve records a new container, claiming its name atomically. commit
// runs the write transaction, in which put writes the container's record
// (with the caller's own changes, such as its writable layer).
func (s *containerStore) reserve(c *container, commit func(put func(tx *bolt.Tx) error) error) error {
	b, err := json.Marshal(&c.rec)
	if err != nil {
		return err
	}
	id, name := c.rec.ID, c.rec.Name
	s.mu.Lock()
	if holder, ok := s.names[name]; ok {
		s.mu.Unlock()
		return nameConflict(name, holder)
	}
	s.names[name] = id
	s.creating[id] = c
	s.mu.Unlock()

	err = commit(func(tx *bolt.Tx) error { return tx.Bucket(bucketContainers).Put([]byte(id), b) })

	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.creating, id)
	if err != nil {
		delete(s.names, name)
		return err
	}
	s.m[id] = c
	return nil
}

func nameConflict(name, holder string) error {
	return errdefs.Conflict(fmt.Errorf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, holder))
}

// nameTaken tells whether a container has (or is getting) name.
func (s *containerStore) nameTaken(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.names[name]
	return ok
}

// deleteTx deletes c's record in tx; once tx has committed, forget c.
func (s *containerStore) deleteTx(tx *bolt.Tx, c *container) error {
	return tx.Bucket(bucketContainers).Delete([]byte(c.rec.ID))
}

// forget drops c, whose record is deleted, and wakes its waiters; c.mu is
// held.
func (s *containerStore) forget(c *container) {
	c.final = c.rec.State
	s.mu.Lock()
	delete(s.m, c.rec.ID)
	if s.names[c.rec.Name] == c.rec.ID {
		delete(s.names, c.rec.Name)
	}
	s.mu.Unlock()
	close(c.removed)
}

func (s *containerStore) rename(c *container, name string) error {
	id, old := c.rec.ID, c.rec.Name
	s.mu.Lock()
	if holder, ok := s.names[name]; ok {
		s.mu.Unlock()
		if holder == id {
			return errdefs.InvalidArgument(fmt.Errorf("Renaming a container with the same name as its current name"))
		}
		return nameConflict(name, holder)
	}
	s.names[name] = id // claimed while the record is written
	s.mu.Unlock()

	c.rec.Name = name
	err := s.save(&c.rec)

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		c.rec.Name = old
		delete(s.names, name)
		return err
	}
	delete(s.names, old)
	return nil
}

// get finds a container by name, full ID or unique ID prefix.
func (s *containerStore) get(ref string) (*container, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	name := strings.TrimPrefix(ref, "/")
	if c := s.m[s.names[name]]; c != nil {
		return c, nil
	}
	if c, ok := s.m[ref]; ok {
		return c, nil
	}
	if ref != "" && isHexString(ref) {
		var found *container
		for id, c := range s.m {
			if strings.HasPrefix(id, ref) {
				if found != nil {
					return nil, errdefs.InvalidArgument(fmt.Errorf("multiple containers found with provided prefix: %s", ref))
				}
				found = c
			}
		}
		if found != nil {
			return found, nil
		}
	}
	return nil, errdefs.NotFound(fmt.Errorf("No such container: %s", ref))
}

func (s *containerStore) list() []*container {
	s.mu.RLock()
	out := make([]*container, 0, len(s.m))
	for _, c := range s.m {
		out = append(out, c)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].rec.Created.After(out[j].rec.Created) })
	return out
}

// usingImage returns a container using image id, or "".
func (s *containerStore) usingImage(id digest.Digest) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, m := range []map[string]*container{s.m, s.creating} {
		for _, c := range m {
			if c.rec.Image == id {
				return c.rec.ID
			}
		}
	}
	return ""
}

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

func isHexString(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// bundleDir is where a running container's spec, rootfs mount and shim
// sockets live (under exec-root: gone after a reboot, as they should be).
func (d *Daemon) bundleDir(id string) string {
	return filepath.Join(d.cfg.ExecRoot, "containers", id)
}

// containerDir holds a container's persistent files (logs, hosts files).
func (d *Daemon) containerDir(id string) string {
	return filepath.Join(d.cfg.DataRoot, "containers", id)
}
