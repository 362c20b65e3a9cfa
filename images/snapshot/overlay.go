package snapshot

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

const (
	tmpPrefix   = "new-" // directory being built, no record yet
	trashPrefix = "rm-"  // directory whose record is gone, being deleted
	fsDir       = "fs"
	workDir     = "work"
)

// Overlay is an overlayfs Snapshotter. It is safe for concurrent use.
type Overlay struct {
	root string
	db   *bolt.DB
	// mu is held shared by every operation and exclusively by Cleanup, so
	// Cleanup never mistakes an in-flight new-*/rm-* directory for a crash
	// leftover.
	mu sync.RWMutex
}

var _ Snapshotter = (*Overlay)(nil)

// NewOverlay opens the snapshotter rooted at root (created if missing),
// keeping its metadata in db's top-level bucket "snapshots". root must be
// dedicated to the snapshotter: Cleanup deletes anything in it that is not
// a snapshot. NewOverlay does not repair anything by itself: call Cleanup at
// daemon start.
func NewOverlay(root string, db *bolt.DB) (*Overlay, error) {
	if db == nil {
		return nil, errors.New("snapshot: nil database")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	// ',' separates overlay options and ':' separates lower dirs; they
	// would need escaping in every mount, so refuse them once here.
	if strings.ContainsAny(abs, ",:") {
		return nil, fmt.Errorf("snapshot: root %q must not contain ',' or ':'", abs)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if err := db.Update(initBuckets); err != nil {
		return nil, fmt.Errorf("snapshot: init metadata: %w", err)
	}
	return &Overlay{root: abs, db: db}, nil
}

func (o *Overlay) dir(id uint64) string { return filepath.Join(o.root, strconv.FormatUint(id, 10)) }
func (o *Overlay) fs(id uint64) string  { return filepath.Join(o.dir(id), fsDir) }

// Stat returns information about a snapshot.
func (o *Overlay) Stat(key string) (Info, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	var info Info
	err := o.db.View(func(tx *bolt.Tx) error {
		_, keys, _, err := buckets(tx)
		if err != nil {
			return err
		}
		r, err := readRecord(keys, key)
		if err != nil {
			return err
		}
		info = r.info()
		return nil
	})
	return info, err
}

// Prepare creates an active snapshot key on top of the committed snapshot
// parent ("" for an empty base).
func (o *Overlay) Prepare(key, parent string, labels map[string]string) ([]Mount, error) {
	return o.create(KindActive, key, parent, labels, false, nil)
}

// PrepareWith is Prepare with fn run in the same write transaction of the
// snapshotter's database: the snapshot comes in one commit with the
// caller's records (a container's), or neither does.
//
// A volatile snapshot is a writable layer thrown away with its container
// (run --rm) and never kept across a crash of the machine: its new
// directories are not synced to disk. If they are lost in such a crash,
// Cleanup drops the record left without its directory.
func (o *Overlay) PrepareWith(key, parent string, labels map[string]string, volatile bool, fn func(tx *bolt.Tx) error) ([]Mount, error) {
	return o.create(KindActive, key, parent, labels, volatile, fn)
}

// View creates a read-only view key of the committed snapshot parent.
func (o *Overlay) View(key, parent string, labels map[string]string) ([]Mount, error) {
	return o.create(KindView, key, parent, labels, false, nil)
}

func (o *Overlay) create(kind Kind, key, parent string, labels map[string]string, volatile bool, fn func(tx *bolt.Tx) error) (_ []Mount, retErr error) {
	if key == "" {
		return nil, errors.New("snapshot: empty key")
	}
	o.mu.RLock()
	defer o.mu.RUnlock()

	// 1. Build the directory under a temporary name. Until it is renamed
	// inside the transaction below, a crash leaves only a new-* directory.
	tmp, err := os.MkdirTemp(o.root, tmpPrefix)
	if err != nil {
		return nil, fmt.Errorf("snapshot %q: %w", key, err)
	}
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Mkdir(filepath.Join(tmp, fsDir), 0o755); err != nil {
		return nil, fmt.Errorf("snapshot %q: %w", key, err)
	}
	if err := os.Mkdir(filepath.Join(tmp, workDir), 0o700); err != nil {
		return nil, fmt.Errorf("snapshot %q: %w", key, err)
	}
	// fs and work must be durable before the directory gets its final name.
	if !volatile {
		if err := syncDir(tmp); err != nil {
			return nil, fmt.Errorf("snapshot %q: %w", key, err)
		}
	}

	// 2. In one transaction: write the record, rename the directory into
	// place and make the rename durable; the record becomes durable last.
	var (
		r      *record
		lowers []*record
		final  string
	)
	err = o.db.Update(func(tx *bolt.Tx) error {
		root, keys, ids, err := buckets(tx)
		if err != nil {
			return err
		}
		if keys.Bucket([]byte(key)) != nil {
			return fmt.Errorf("snapshot %q: %w", key, ErrExists)
		}
		r = &record{name: key, kind: kind, parent: parent, created: time.Now().UTC(), labels: maps.Clone(labels)}
		if parent != "" {
			pr, err := readRecord(keys, parent)
			if err != nil {
				return fmt.Errorf("snapshot %q: parent: %w", key, err)
			}
			if pr.kind != KindCommitted {
				return fmt.Errorf("snapshot %q: parent %q is %s, not committed: %w", key, parent, pr.kind, ErrInvalidKind)
			}
			up, err := chain(keys, pr)
			if err != nil {
				return err
			}
			lowers = append([]*record{pr}, up...)
			if err := setChild(keys, parent, key, true); err != nil {
				return err
			}
		}
		if r.id, err = root.NextSequence(); err != nil {
			return err
		}
		if err := writeRecord(keys, r, nil); err != nil {
			return err
		}
		if err := ids.Put(idKey(r.id), []byte(key)); err != nil {
			return err
		}
		dst := o.dir(r.id)
		// A directory with a fresh id can only be the leftover of an
		// earlier transaction that renamed it and then failed to commit
		// (so the sequence number was handed out again).
		if _, err := os.Lstat(dst); err == nil {
			if err := o.trash(dst); err != nil {
				return fmt.Errorf("snapshot %q: stale directory %s: %w", key, dst, err)
			}
		}
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("snapshot %q: %w", key, err)
		}
		final, tmp = dst, ""
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		if volatile {
			return nil
		}
		return syncDir(o.root)
	})
	if err != nil {
		if final != "" {
			// The rename happened but the record was not committed.
			os.RemoveAll(final)
		}
		return nil, err
	}
	return o.mounts(r, lowers), nil
}

// Mounts returns the mounts of an active snapshot or a view.
func (o *Overlay) Mounts(key string) ([]Mount, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	var mounts []Mount
	err := o.db.View(func(tx *bolt.Tx) error {
		_, keys, _, err := buckets(tx)
		if err != nil {
			return err
		}
		r, err := readRecord(keys, key)
		if err != nil {
			return err
		}
		if r.kind == KindCommitted {
			return fmt.Errorf("snapshot %q is committed and cannot be mounted; create a View of it: %w", key, ErrInvalidKind)
		}
		lowers, err := chain(keys, r)
		if err != nil {
			return err
		}
		mounts = o.mounts(r, lowers)
		return nil
	})
	return mounts, err
}

// mounts computes the mounts of r (active or view) given its ancestors,
// nearest first. The shapes follow containerd's overlay snapshotter:
//
//   - no parent: bind mount of r's own fs dir (rw for active, ro for a
//     view); overlay needs at least one lower dir, and a bind is cheaper.
//   - view of a single layer: read-only bind of that layer's fs dir; an
//     overlay with no upper dir needs at least two lower dirs.
//   - view of several layers: overlay with lowerdir only, which is
//     read-only by construction ("ro" is added to say so explicitly).
//   - active with parents: overlay lowerdir=<parents, top first>,
//     upperdir=<fs>, workdir=<work>.
//
// Overlay mounts carry index=off when the kernel knows the option: with
// the inodes index on, overlayfs records the upper/lower identity in the
// upper dir and refuses (ESTALE) later mounts whose layer stack differs,
// while here every committed layer is a lower dir of many different mounts
// and an upper dir may be remounted after a reboot. userxattr is not used:
// ctrd runs as real root, and trusted.* xattrs keep whiteouts/opaque dirs
// interoperable with images unpacked by other tools.
func (o *Overlay) mounts(r *record, lowers []*record) []Mount {
	if len(lowers) == 0 {
		mode := "rw"
		if r.kind == KindView {
			mode = "ro"
		}
		return []Mount{{Type: "bind", Source: o.fs(r.id), Options: []string{"rbind", mode}}}
	}
	if r.kind == KindView && len(lowers) == 1 {
		return []Mount{{Type: "bind", Source: o.fs(lowers[0].id), Options: []string{"rbind", "ro"}}}
	}
	dirs := make([]string, len(lowers))
	for i, l := range lowers {
		dirs[i] = o.fs(l.id)
	}
	var opts []string
	if r.kind == KindView {
		opts = append(opts, "ro")
	}
	if indexOffSupported() {
		opts = append(opts, "index=off")
	}
	if r.kind == KindActive {
		opts = append(opts,
			"workdir="+filepath.Join(o.dir(r.id), workDir),
			"upperdir="+o.fs(r.id))
	}
	opts = append(opts, "lowerdir="+strings.Join(dirs, ":"))
	return []Mount{{Type: "overlay", Source: "overlay", Options: opts}}
}

var indexOff struct {
	sync.Mutex
	ok bool
}

// indexOffSupported reports whether the overlay module exposes the "index"
// parameter (kernel >= 4.13), i.e. accepts the index=off mount option. A
// positive answer is cached; a negative one is re-checked because the
// module may simply not be loaded yet.
func indexOffSupported() bool {
	indexOff.Lock()
	defer indexOff.Unlock()
	if !indexOff.ok {
		_, err := os.Stat("/sys/module/overlay/parameters/index")
		indexOff.ok = err == nil
	}
	return indexOff.ok
}

// Commit turns the active snapshot key into the committed snapshot name.
// Everything written into the snapshot is flushed to disk (syncfs) before
// the commit is recorded, so a committed layer is never partly lost in a
// crash.
func (o *Overlay) Commit(name, key string) error {
	if name == "" {
		return errors.New("snapshot: empty name")
	}
	o.mu.RLock()
	defer o.mu.RUnlock()

	r, err := o.record(key)
	if err != nil {
		return err
	}
	if r.kind != KindActive {
		return fmt.Errorf("snapshot %q is %s, only active snapshots can be committed: %w", key, r.kind, ErrInvalidKind)
	}
	if err := syncFS(o.fs(r.id)); err != nil {
		return fmt.Errorf("snapshot %q: sync: %w", key, err)
	}
	return o.db.Update(func(tx *bolt.Tx) error {
		_, keys, ids, err := buckets(tx)
		if err != nil {
			return err
		}
		cur, err := readRecord(keys, key)
		if err != nil {
			return err
		}
		if cur.kind != KindActive || cur.id != r.id {
			return fmt.Errorf("snapshot %q changed during commit: %w", key, ErrInvalidKind)
		}
		if keys.Bucket([]byte(name)) != nil {
			return fmt.Errorf("snapshot %q: %w", name, ErrExists)
		}
		if err := keys.DeleteBucket([]byte(key)); err != nil {
			return err
		}
		cur.name, cur.kind = name, KindCommitted
		if err := writeRecord(keys, cur, nil); err != nil {
			return err
		}
		if cur.parent != "" {
			if err := setChild(keys, cur.parent, key, false); err != nil {
				return err
			}
			if err := setChild(keys, cur.parent, name, true); err != nil {
				return err
			}
		}
		return ids.Put(idKey(cur.id), []byte(name))
	})
}

// Remove deletes a snapshot and its directory. It fails with ErrInUse while
// another snapshot has it as parent. Removing the directory of a snapshot
// that is still mounted is the caller's mistake, as with containerd.
func (o *Overlay) Remove(key string) error {
	deleteDir, err := o.remove(key, false, nil)
	if err != nil {
		return err
	}
	deleteDir()
	return nil
}

// RemoveWith is Remove with fn run in the same write transaction of the
// snapshotter's database: the snapshot goes in one commit with the
// caller's records (a container's), or neither goes. A key that names no
// snapshot is not an error here: then only fn's changes are committed.
// The snapshot's directory, moved aside in the transaction, is deleted by
// deleteDir, which the caller runs once nothing has it mounted any more
// (if it never does, Cleanup deletes the directory at the next start).
func (o *Overlay) RemoveWith(key string, fn func(tx *bolt.Tx) error) (deleteDir func(), err error) {
	return o.remove(key, true, fn)
}

func (o *Overlay) remove(key string, missingOK bool, fn func(tx *bolt.Tx) error) (func(), error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	var trash, orig string
	err := o.db.Update(func(tx *bolt.Tx) error {
		var err error
		trash, orig, err = o.removeTx(tx, key)
		if err != nil && !(missingOK && errors.Is(err, ErrNotFound)) {
			return err
		}
		if fn != nil {
			return fn(tx)
		}
		return nil
	})
	if err != nil {
		if trash != "" {
			// The directory was moved but the transaction did not commit:
			// put it back (if this fails, Cleanup drops the dir-less record).
			os.Rename(trash, orig)
		}
		return nil, err
	}
	return func() {
		if trash == "" {
			return
		}
		if err := os.RemoveAll(trash); err != nil {
			// The snapshot is gone; Cleanup will finish the job.
			logrus.WithError(err).WithField("dir", trash).Warn("snapshot: could not delete removed snapshot's directory")
		}
	}, nil
}

// removeTx deletes the record of snapshot key in tx and moves its
// directory, orig, to trash.
func (o *Overlay) removeTx(tx *bolt.Tx, key string) (trash, orig string, err error) {
	_, keys, ids, err := buckets(tx)
	if err != nil {
		return "", "", err
	}
	r, err := readRecord(keys, key)
	if err != nil {
		return "", "", err
	}
	if c := childrenOf(keys, key); len(c) > 0 {
		return "", "", fmt.Errorf("snapshot %q is the parent of %q: %w", key, c[0], ErrInUse)
	}
	if err := keys.DeleteBucket([]byte(key)); err != nil {
		return "", "", err
	}
	if r.parent != "" {
		if err := setChild(keys, r.parent, key, false); err != nil {
			return "", "", err
		}
	}
	if err := ids.Delete(idKey(r.id)); err != nil {
		return "", "", err
	}
	// Rename inside the transaction: if the rename fails (e.g. EBUSY
	// because the fs dir is a mount point) nothing changes. If the
	// commit then fails, a dir-less record is left behind, which
	// Cleanup repairs.
	orig = o.dir(r.id)
	trash, err = o.moveToTrash(orig)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("snapshot %q: %w", key, err)
	}
	return trash, orig, nil
}

// Walk calls fn for every snapshot, in name order. fn runs outside any
// database transaction, so it may call other Overlay methods.
func (o *Overlay) Walk(fn func(Info) error) error {
	var infos []Info
	o.mu.RLock()
	err := o.db.View(func(tx *bolt.Tx) error {
		_, keys, _, err := buckets(tx)
		if err != nil {
			return err
		}
		return keys.ForEachBucket(func(k []byte) error {
			r, err := decodeRecord(string(k), keys.Bucket(k))
			if err != nil {
				return err
			}
			infos = append(infos, r.info())
			return nil
		})
	})
	o.mu.RUnlock()
	if err != nil {
		return err
	}
	for _, info := range infos {
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Usage returns the disk usage of the snapshot's own fs dir.
func (o *Overlay) Usage(key string) (Usage, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	r, err := o.record(key)
	if err != nil {
		return Usage{}, err
	}
	u, err := diskUsage(o.fs(r.id))
	if err != nil {
		return Usage{}, fmt.Errorf("snapshot %q: usage: %w", key, err)
	}
	return u, nil
}

// UpperDir returns the fs dir of an active snapshot: where a layer is
// unpacked or a container writes.
func (o *Overlay) UpperDir(key string) (string, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	r, err := o.record(key)
	if err != nil {
		return "", err
	}
	if r.kind != KindActive {
		return "", fmt.Errorf("snapshot %q is %s, not active: %w", key, r.kind, ErrInvalidKind)
	}
	return o.fs(r.id), nil
}

// Dir returns the fs dir of any snapshot: its own files (read-only for a
// committed one). For `inspect` and diffs.
func (o *Overlay) Dir(key string) (string, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	r, err := o.record(key)
	if err != nil {
		return "", err
	}
	return o.fs(r.id), nil
}

// LowerDirs returns the fs dirs of key's parent chain, nearest parent first
// (the order of overlay's lowerdir). It is empty for a parentless snapshot.
func (o *Overlay) LowerDirs(key string) ([]string, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	var dirs []string
	err := o.db.View(func(tx *bolt.Tx) error {
		_, keys, _, err := buckets(tx)
		if err != nil {
			return err
		}
		r, err := readRecord(keys, key)
		if err != nil {
			return err
		}
		lowers, err := chain(keys, r)
		if err != nil {
			return err
		}
		for _, l := range lowers {
			dirs = append(dirs, o.fs(l.id))
		}
		return nil
	})
	return dirs, err
}

func (o *Overlay) record(key string) (*record, error) {
	var r *record
	err := o.db.View(func(tx *bolt.Tx) error {
		_, keys, _, err := buckets(tx)
		if err != nil {
			return err
		}
		r, err = readRecord(keys, key)
		return err
	})
	return r, err
}

// moveToTrash renames dir to a unique rm-* name in the root and returns it.
func (o *Overlay) moveToTrash(dir string) (string, error) {
	var b [6]byte
	rand.Read(b[:])
	t := filepath.Join(o.root, trashPrefix+filepath.Base(dir)+"-"+hex.EncodeToString(b[:]))
	if err := os.Rename(dir, t); err != nil {
		return "", err
	}
	return t, nil
}

// trash moves dir out of the way and deletes it.
func (o *Overlay) trash(dir string) error {
	t, err := o.moveToTrash(dir)
	if err != nil {
		return err
	}
	return os.RemoveAll(t)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncFS flushes the whole filesystem holding dir (syncfs(2)): one call
// instead of an fsync per unpacked file.
func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}
