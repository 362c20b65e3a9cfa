package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

func (e *env) idOf(t *testing.T, key string) uint64 {
	t.Helper()
	r, err := e.o.record(key)
	if err != nil {
		t.Fatal(err)
	}
	return r.id
}

// TestCleanup simulates the leftovers of crashes at every step and checks
// that Cleanup repairs them without touching healthy snapshots.
func TestCleanup(t *testing.T) {
	e := newEnv(t)
	o := e.o

	// Healthy chain: good1 <- good2 <- goodctr, plus a view.
	o.Prepare("g1-tmp", "", nil)
	up, _ := o.UpperDir("g1-tmp")
	writeFile(t, filepath.Join(up, "data"), "precious")
	o.Commit("good1", "g1-tmp")
	o.Prepare("g2-tmp", "good1", nil)
	o.Commit("good2", "g2-tmp")
	o.Prepare("goodctr", "good2", nil)
	o.View("goodview", "good1", nil)

	// Broken chain: its base loses its directory (record without dir);
	// everything built on it must go too.
	o.Prepare("b1-tmp", "", nil)
	o.Commit("broken1", "b1-tmp")
	o.Prepare("b2-tmp", "broken1", nil)
	o.Commit("broken2", "b2-tmp")
	o.Prepare("brokenctr", "broken2", nil)
	b1, b2, bc := e.idOf(t, "broken1"), e.idOf(t, "broken2"), e.idOf(t, "brokenctr")
	if err := os.RemoveAll(o.dir(b1)); err != nil {
		t.Fatal(err)
	}

	// Record whose dir exists but lost its fs subdir.
	o.Prepare("nofs", "", nil)
	nofs := e.idOf(t, "nofs")
	os.RemoveAll(o.fs(nofs))

	// Interrupted create: new-* dir (with something mounted inside it, to
	// check Cleanup never deletes through a mount).
	stray := filepath.Join(e.root, "new-123456")
	os.MkdirAll(filepath.Join(stray, "fs", "mnt"), 0o755)
	os.MkdirAll(filepath.Join(stray, "work"), 0o700)
	mounted := false
	if os.Geteuid() == 0 {
		if err := unix.Mount("tmpfs", filepath.Join(stray, "fs", "mnt"), "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
		mounted = true
		t.Cleanup(func() { Unmount(filepath.Join(stray, "fs", "mnt")) })
		writeFile(t, filepath.Join(stray, "fs", "mnt", "canary"), "c")
	}
	// Interrupted create after the rename, before the commit: <id> dir
	// without record (using the very next id, which will be handed out
	// again).
	var seq uint64
	e.db.View(func(tx *bolt.Tx) error { seq = tx.Bucket(bktRoot).Sequence(); return nil })
	orphanNext := o.dir(seq + 1)
	os.MkdirAll(filepath.Join(orphanNext, "fs", "junk"), 0o755)
	orphanFar := o.dir(9999)
	os.MkdirAll(filepath.Join(orphanFar, "fs"), 0o755)
	// Interrupted remove: half-deleted trash, read-only dirs included.
	trash := filepath.Join(e.root, "rm-42-abcdef")
	os.MkdirAll(filepath.Join(trash, "fs", "a", "b"), 0o755)
	writeFile(t, filepath.Join(trash, "fs", "a", "b", "f"), "x")
	os.Chmod(filepath.Join(trash, "fs", "a"), 0o500)
	// Junk file and a non-canonical numeric name.
	writeFile(t, filepath.Join(e.root, "junk"), "j")
	os.MkdirAll(filepath.Join(e.root, "0"+strconv.FormatUint(e.idOf(t, "good1"), 10)), 0o755)

	// Dangling index entries: a child that does not exist, and an ids
	// entry for a dead id.
	e.db.Update(func(tx *bolt.Tx) error {
		_, keys, ids, _ := buckets(tx)
		setChild(keys, "good2", "ghost", true)
		return ids.Put(idKey(777), []byte("ghost"))
	})

	if err := o.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if mounted {
		var st unix.Statfs_t
		if err := unix.Statfs(filepath.Join(stray, "fs", "mnt"), &st); err == nil && st.Type == unix.TMPFS_MAGIC {
			t.Fatal("mount inside stray dir still present")
		}
	}

	// What survives: exactly the healthy snapshots.
	var names []string
	o.Walk(func(i Info) error { names = append(names, i.Name); return nil })
	if want := []string{"good1", "good2", "goodctr", "goodview"}; !slices.Equal(names, want) {
		t.Fatalf("records after Cleanup = %v, want %v", names, want)
	}
	var wantDirs []string
	for _, k := range names {
		wantDirs = append(wantDirs, strconv.FormatUint(e.idOf(t, k), 10))
	}
	slices.Sort(wantDirs)
	if got := rootEntries(t, e.root); !slices.Equal(got, wantDirs) {
		t.Fatalf("root after Cleanup = %v, want %v", got, wantDirs)
	}
	for _, id := range []uint64{b1, b2, bc, nofs} {
		wantMissing(t, o.dir(id))
	}
	lowers, _ := o.LowerDirs("goodview")
	wantFile(t, filepath.Join(lowers[0], "data"), "precious")

	// Indexes repaired: ghost child gone, ids match records.
	if err := o.Remove("goodctr"); err != nil {
		t.Fatal(err)
	}
	if err := o.Remove("good2"); err != nil {
		t.Fatalf("Remove after ghost child pruned: %v", err)
	}
	e.db.View(func(tx *bolt.Tx) error {
		_, _, ids, _ := buckets(tx)
		if ids.Get(idKey(777)) != nil {
			t.Error("dangling ids entry survived")
		}
		if ids.Stats().KeyN != 2 {
			t.Errorf("ids has %d entries, want 2", ids.Stats().KeyN)
		}
		return nil
	})

	// New snapshots work, including one that gets the id of the orphan
	// dir removed above.
	if _, err := o.Prepare("after", "good1", nil); err != nil {
		t.Fatal(err)
	}
	// Cleanup is idempotent.
	if err := o.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Stat("after"); err != nil {
		t.Fatal(err)
	}
}

// A crash between renaming the new dir into place and committing the
// record leaves <next id> on disk; the next Prepare must cope even without
// Cleanup.
func TestStaleDirWithNextID(t *testing.T) {
	e := newEnv(t)
	var seq uint64
	e.db.View(func(tx *bolt.Tx) error { seq = tx.Bucket(bktRoot).Sequence(); return nil })
	stale := e.o.dir(seq + 1)
	writeFile(t, filepath.Join(stale, "fs", "old"), "stale")
	if _, err := e.o.Prepare("k", "", nil); err != nil {
		t.Fatal(err)
	}
	up, _ := e.o.UpperDir("k")
	if up != filepath.Join(stale, "fs") {
		t.Fatalf("test assumption: got %s", up)
	}
	wantMissing(t, filepath.Join(up, "old"))
	if n := rootEntries(t, e.root); len(n) != 1 {
		t.Fatalf("root = %v", n)
	}
}

// Remove interrupted after its transaction: record gone, dir renamed to
// trash but not deleted. Cleanup finishes it; nothing else is affected.
func TestCleanupAfterInterruptedRemove(t *testing.T) {
	e := newEnv(t)
	o := e.o
	o.Prepare("a", "", nil)
	o.Prepare("b", "", nil)
	id := e.idOf(t, "a")
	// Do what Remove's transaction does, but "crash" before RemoveAll.
	err := e.db.Update(func(tx *bolt.Tx) error {
		_, keys, ids, _ := buckets(tx)
		keys.DeleteBucket([]byte("a"))
		ids.Delete(idKey(id))
		_, err := o.moveToTrash(o.dir(id))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rootEntries(t, e.root)) != 2 {
		t.Fatal("expected trash + b")
	}
	e.reopen(t)
	if err := e.o.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if got := rootEntries(t, e.root); len(got) != 1 || got[0] != strconv.FormatUint(e.idOf(t, "b"), 10) {
		t.Fatalf("root = %v", got)
	}
	if _, err := e.o.Stat("a"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

// A record that cannot be decoded is dropped rather than blocking startup.
func TestCleanupCorruptRecord(t *testing.T) {
	e := newEnv(t)
	e.o.Prepare("ok", "", nil)
	e.db.Update(func(tx *bolt.Tx) error {
		_, keys, _, _ := buckets(tx)
		b, _ := keys.CreateBucket([]byte("corrupt"))
		return b.Put(keyID, []byte{1, 2})
	})
	if err := e.o.Walk(func(Info) error { return nil }); err == nil {
		t.Fatal("Walk over corrupt record succeeded")
	}
	if err := e.o.Cleanup(); err != nil {
		t.Fatal(err)
	}
	var names []string
	e.o.Walk(func(i Info) error { names = append(names, i.Name); return nil })
	if !slices.Equal(names, []string{"ok"}) {
		t.Fatalf("records = %v", names)
	}
}
