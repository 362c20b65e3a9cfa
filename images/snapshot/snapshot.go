// Package snapshot is ctrd's overlayfs snapshotter, shaped like containerd's
// snapshots.Snapshotter.
//
// A snapshot is a directory <root>/<id>/fs (the overlay upper dir, which
// becomes a lower dir once committed) plus <root>/<id>/work (the overlay
// work dir). Ids are small decimal numbers so the overlay mount option
// string stays short. All metadata lives in the top-level bucket "snapshots"
// of a bbolt database shared with the rest of the daemon.
//
// Crash safety. A new snapshot's directory is built under a temporary name
// (new-*), then, inside one bbolt write transaction, its record is written,
// the directory is renamed to <id> and the root directory is fsynced; the
// transaction commits last. Remove deletes the record and renames <id> to a
// trash name (rm-*) in one transaction, then deletes the trash. Therefore
// after a crash at any point the store holds only:
//   - complete snapshots (record + <id> dir),
//   - new-* / rm-* leftovers and <id> dirs without a record (Cleanup deletes
//     them),
//   - at worst a record whose directory is gone (Cleanup deletes the record
//     and every snapshot built on it).
package snapshot

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Kind is the state of a snapshot.
type Kind int

// The zero Kind is invalid.
const (
	KindView      Kind = iota + 1 // read-only view of a committed parent
	KindActive                    // writable; can be committed
	KindCommitted                 // immutable; can be a parent
)

func (k Kind) String() string {
	switch k {
	case KindView:
		return "view"
	case KindActive:
		return "active"
	case KindCommitted:
		return "committed"
	}
	return fmt.Sprintf("unknown(%d)", int(k))
}

// Info describes a snapshot.
type Info struct {
	Name    string // key of an active/view snapshot, name of a committed one
	Parent  string // "" for none
	Kind    Kind
	Created time.Time
	Labels  map[string]string
}

// Mount is one mount(2) call; Options are mount(8)-style options.
type Mount struct {
	Type    string
	Source  string
	Options []string
}

// Usage is the disk usage of a snapshot's own layer (not its parents).
type Usage struct {
	Size   int64 // bytes: sum of apparent sizes of non-directories, hard links counted once
	Inodes int64 // distinct inodes, directories included
}

// Snapshotter manages layered filesystem snapshots.
type Snapshotter interface {
	// Stat returns information about a snapshot.
	Stat(key string) (Info, error)
	// Prepare creates an active (writable) snapshot on top of the committed
	// snapshot parent ("" for none) and returns how to mount it.
	Prepare(key, parent string, labels map[string]string) ([]Mount, error)
	// View creates a read-only view of the committed snapshot parent.
	View(key, parent string, labels map[string]string) ([]Mount, error)
	// Mounts returns how to mount an active snapshot or a view.
	Mounts(key string) ([]Mount, error)
	// Commit turns the active snapshot key into the committed snapshot
	// name; key no longer exists afterwards.
	Commit(name, key string) error
	// Remove deletes a snapshot; it fails with ErrInUse while another
	// snapshot has it as parent.
	Remove(key string) error
	// RemoveWith is Remove with fn in the same write transaction of the
	// snapshotter's database; see Overlay.RemoveWith.
	RemoveWith(key string, fn func(tx *bolt.Tx) error) (deleteDir func(), err error)
	// Walk calls fn for every snapshot.
	Walk(fn func(Info) error) error
	// Usage returns the disk usage of the snapshot's own layer.
	Usage(key string) (Usage, error)
}

// Errors; the returned errors wrap these and name the snapshot.
var (
	ErrNotFound = errors.New("snapshot not found")
	ErrExists   = errors.New("snapshot already exists")
	ErrInUse    = errors.New("snapshot is in use as a parent")
	// ErrInvalidKind: the operation does not apply to a snapshot of that
	// kind (e.g. committing a view, preparing on top of an active snapshot,
	// mounting a committed snapshot).
	ErrInvalidKind = errors.New("invalid snapshot kind for this operation")
)
