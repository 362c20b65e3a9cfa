package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"github.com/moby/sys/mountinfo"
	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Cleanup reconciles metadata and directories after a crash. It is meant
// for daemon start but safe at any time (it excludes all other operations
// while it runs). It:
//   - drops records whose directory (or fs dir) is missing, records that
//     cannot be decoded, and every snapshot whose parent chain is broken
//     (missing, not committed, cyclic), together with their directories;
//   - rebuilds the children and id indexes from the surviving records;
//   - deletes every entry under root that is not the directory of a
//     surviving record: new-* (interrupted create), rm-* (interrupted
//     remove) and <id> dirs whose record never committed or was dropped.
//
// Anything mounted below a directory it deletes is unmounted first, so
// RemoveAll never descends into a mounted filesystem. Errors are collected
// and returned together; the repairs that succeeded are kept.
func (o *Overlay) Cleanup() error {
	o.mu.Lock()
	defer o.mu.Unlock()

	keep := map[uint64]bool{}
	var errs []error
	err := o.db.Update(func(tx *bolt.Tx) error {
		var err error
		keep, err = o.repairMetadata(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("snapshot: cleanup metadata: %w", err)
	}

	entries, err := os.ReadDir(o.root)
	if err != nil {
		return fmt.Errorf("snapshot: cleanup: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(o.root, name)
		if id, err := strconv.ParseUint(name, 10, 64); err == nil && keep[id] && strconv.FormatUint(id, 10) == name {
			// A kept snapshot: make sure its work dir exists (overlay
			// needs it for an active snapshot; it is cheap for the rest).
			if err := os.MkdirAll(filepath.Join(p, workDir), 0o700); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		logrus.WithField("path", p).Info("snapshot: cleanup: removing leftover")
		if err := removeLeftover(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// repairMetadata fixes the records inside tx and returns the ids of the
// records that survive.
func (o *Overlay) repairMetadata(tx *bolt.Tx) (map[uint64]bool, error) {
	root, keys, _, err := buckets(tx)
	if err != nil {
		return nil, err
	}
	recs := map[string]*record{}
	var drop []string
	err = keys.ForEach(func(k, v []byte) error {
		b := keys.Bucket(k)
		if b == nil { // a plain key does not belong here
			drop = append(drop, string(k))
			return nil
		}
		r, err := decodeRecord(string(k), b)
		if err != nil {
			logrus.WithError(err).Warn("snapshot: cleanup: dropping undecodable record")
			drop = append(drop, string(k))
			return nil
		}
		recs[r.name] = r
		return nil
	})
	if err != nil {
		return nil, err
	}

	// A record is good when its fs dir exists, its id is unique and its
	// parent is a good committed record.
	const (
		unknown = iota
		visiting
		good
		bad
	)
	state := map[string]int{}
	idOwner := map[uint64]string{}
	names := make([]string, 0, len(recs))
	for n := range recs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := recs[n]
		if other, dup := idOwner[r.id]; dup {
			logrus.Warnf("snapshot: cleanup: %q and %q share id %d; dropping %q", other, n, r.id, n)
			state[n] = bad
			continue
		}
		idOwner[r.id] = n
	}
	var check func(name string) bool
	check = func(name string) bool {
		switch state[name] {
		case good:
			return true
		case bad, visiting:
			return false
		}
		r, ok := recs[name]
		if !ok {
			return false
		}
		state[name] = visiting
		ok = true
		reason := ""
		if fi, err := os.Stat(o.fs(r.id)); err != nil || !fi.IsDir() {
			ok, reason = false, "directory missing"
		} else if r.kind < KindView || r.kind > KindCommitted {
			ok, reason = false, "invalid kind"
		} else if r.parent != "" {
			p, found := recs[r.parent]
			switch {
			case !found:
				ok, reason = false, "parent "+strconv.Quote(r.parent)+" missing"
			case p.kind != KindCommitted:
				ok, reason = false, "parent "+strconv.Quote(r.parent)+" not committed"
			case !check(r.parent):
				ok, reason = false, "parent "+strconv.Quote(r.parent)+" dropped"
			}
		}
		if ok {
			state[name] = good
		} else {
			state[name] = bad
			logrus.WithField("snapshot", name).Infof("snapshot: cleanup: dropping record: %s", reason)
		}
		return ok
	}
	for _, n := range names {
		if !check(n) {
			drop = append(drop, n)
		}
	}
	for _, n := range drop {
		if keys.Bucket([]byte(n)) != nil {
			err = keys.DeleteBucket([]byte(n))
		} else {
			err = keys.Delete([]byte(n))
		}
		if err != nil {
			return nil, err
		}
		delete(recs, n)
	}

	// Rebuild the indexes from the surviving records, touching only what
	// differs.
	children := map[string][]string{}
	keep := map[uint64]bool{}
	var maxID uint64
	for _, r := range recs {
		keep[r.id] = true
		maxID = max(maxID, r.id)
		if r.parent != "" {
			children[r.parent] = append(children[r.parent], r.name)
		}
	}
	for _, r := range recs {
		want := children[r.name]
		sort.Strings(want)
		have := childrenOf(keys, r.name)
		if slices.Equal(want, have) {
			continue
		}
		b := keys.Bucket([]byte(r.name))
		if b.Bucket(bktChildren) != nil {
			if err := b.DeleteBucket(bktChildren); err != nil {
				return nil, err
			}
		}
		cb, err := b.CreateBucket(bktChildren)
		if err != nil {
			return nil, err
		}
		for _, c := range want {
			if err := cb.Put([]byte(c), nil); err != nil {
				return nil, err
			}
		}
	}
	idsOK := true
	ids := root.Bucket(bktIDs)
	n := 0
	ids.ForEach(func(k, v []byte) error {
		n++
		if len(k) != 8 || !keep[uint64FromKey(k)] || recs[string(v)] == nil || recs[string(v)].id != uint64FromKey(k) {
			idsOK = false
		}
		return nil
	})
	if !idsOK || n != len(recs) {
		if err := root.DeleteBucket(bktIDs); err != nil {
			return nil, err
		}
		ids, err = root.CreateBucket(bktIDs)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if err := ids.Put(idKey(r.id), []byte(r.name)); err != nil {
				return nil, err
			}
		}
	}
	// Never hand out an id that a record already uses.
	if root.Sequence() < maxID {
		if err := root.SetSequence(maxID); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

func uint64FromKey(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// removeLeftover unmounts whatever is mounted at or below p (deepest
// first) and deletes p.
func removeLeftover(p string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(p))
	if err != nil {
		return fmt.Errorf("snapshot: cleanup %s: %w", p, err)
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		if err := Unmount(m.Mountpoint); err != nil {
			return fmt.Errorf("snapshot: cleanup %s: %w", p, err)
		}
	}
	if err := os.RemoveAll(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot: cleanup: %w", err)
	}
	return nil
}

// diskUsage measures dir: apparent sizes of non-directories plus the number
// of distinct inodes, counting hard links once.
func diskUsage(dir string) (Usage, error) {
	var u Usage
	type inode struct{ dev, ino uint64 }
	seen := map[inode]struct{}{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		k := inode{uint64(st.Dev), st.Ino}
		if _, dup := seen[k]; dup {
			return nil
		}
		seen[k] = struct{}{}
		u.Inodes++
		if !d.IsDir() {
			u.Size += st.Size
		}
		return nil
	})
	return u, err
}
