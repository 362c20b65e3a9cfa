package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount)")
	}
}

type env struct {
	o      *Overlay
	root   string
	dbPath string
	db     *bolt.DB
}

func newEnv(t testing.TB) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{root: filepath.Join(base, "snapshots"), dbPath: filepath.Join(base, "meta.db")}
	e.open(t)
	return e
}

func (e *env) open(t testing.TB) {
	t.Helper()
	db, err := bolt.Open(e.dbPath, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o, err := NewOverlay(e.root, db)
	if err != nil {
		t.Fatal(err)
	}
	e.db, e.o = db, o
}

func (e *env) reopen(t testing.TB) {
	t.Helper()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
}

// mount mounts ms on a fresh directory and unmounts it at test end.
func mount(t *testing.T, ms []Mount) string {
	t.Helper()
	target := t.TempDir()
	if err := MountAll(ms, target); err != nil {
		t.Fatalf("MountAll(%+v): %v", ms, err)
	}
	t.Cleanup(func() {
		if err := Unmount(target); err != nil {
			t.Errorf("Unmount: %v", err)
		}
	})
	return target
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func wantFile(t *testing.T, p, data string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	if string(b) != data {
		t.Fatalf("%s = %q, want %q", p, b, data)
	}
}

func wantMissing(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s should not exist (err %v)", p, err)
	}
}

func rootEntries(t *testing.T, root string) []string {
	t.Helper()
	es, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestKindString(t *testing.T) {
	for k, s := range map[Kind]string{KindView: "view", KindActive: "active", KindCommitted: "committed"} {
		if k.String() != s {
			t.Errorf("%d.String() = %q", k, k.String())
		}
	}
}

// TestChain builds three committed layers with real overlay mounts, then a
// container layer and views on top.
func TestChain(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	o := e.o

	// Layer 1: unpacked directly into the upper dir (like the image
	// unpacker does), no mount needed.
	ms, err := o.Prepare("l1-tmp", "", map[string]string{"stage": "unpack"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Type != "bind" || !slices.Contains(ms[0].Options, "rw") {
		t.Fatalf("parentless Prepare mounts = %+v", ms)
	}
	up1, err := o.UpperDir("l1-tmp")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(up1, "a"), "1")
	writeFile(t, filepath.Join(up1, "dir", "x"), "x1")
	writeFile(t, filepath.Join(up1, "keep"), "k")
	// The bind mount works too.
	m1 := mount(t, ms)
	wantFile(t, filepath.Join(m1, "a"), "1")
	if err := Unmount(m1); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit("l1", "l1-tmp"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Stat("l1-tmp"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key survived commit: %v", err)
	}

	// Layer 2: through an overlay mount.
	ms, err = o.Prepare("l2-tmp", "l1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Type != "overlay" {
		t.Fatalf("Prepare on parent mounts = %+v", ms)
	}
	m2 := mount(t, ms)
	wantFile(t, filepath.Join(m2, "a"), "1")
	writeFile(t, filepath.Join(m2, "a"), "2")
	writeFile(t, filepath.Join(m2, "b"), "b2")
	if err := os.RemoveAll(filepath.Join(m2, "dir", "x")); err != nil {
		t.Fatal(err)
	}
	if err := Unmount(m2); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit("l2", "l2-tmp"); err != nil {
		t.Fatal(err)
	}

	// Layer 3.
	ms, err = o.Prepare("l3-tmp", "l2", nil)
	if err != nil {
		t.Fatal(err)
	}
	m3 := mount(t, ms)
	wantFile(t, filepath.Join(m3, "a"), "2")
	wantMissing(t, filepath.Join(m3, "dir", "x"))
	writeFile(t, filepath.Join(m3, "c"), "c3")
	if err := os.Remove(filepath.Join(m3, "keep")); err != nil {
		t.Fatal(err)
	}
	if err := Unmount(m3); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit("l3", "l3-tmp"); err != nil {
		t.Fatal(err)
	}

	// A container's writable layer on top.
	ms, err = o.Prepare("ctr", "l3", map[string]string{"container": "web"})
	if err != nil {
		t.Fatal(err)
	}
	mc := mount(t, ms)
	wantFile(t, filepath.Join(mc, "a"), "2")
	wantFile(t, filepath.Join(mc, "b"), "b2")
	wantFile(t, filepath.Join(mc, "c"), "c3")
	wantMissing(t, filepath.Join(mc, "dir", "x"))
	wantMissing(t, filepath.Join(mc, "keep"))
	writeFile(t, filepath.Join(mc, "a"), "container")
	writeFile(t, filepath.Join(mc, "new"), "n")
	upc, _ := o.UpperDir("ctr")
	wantFile(t, filepath.Join(upc, "new"), "n")

	lowers, err := o.LowerDirs("ctr")
	if err != nil {
		t.Fatal(err)
	}
	if len(lowers) != 3 {
		t.Fatalf("LowerDirs = %v", lowers)
	}
	// Lower layers are unchanged by everything above them.
	wantFile(t, filepath.Join(lowers[2], "a"), "1")
	wantFile(t, filepath.Join(lowers[2], "dir", "x"), "x1")
	wantFile(t, filepath.Join(lowers[2], "keep"), "k")
	wantMissing(t, filepath.Join(lowers[2], "b"))
	wantFile(t, filepath.Join(lowers[1], "a"), "2")
	wantMissing(t, filepath.Join(lowers[1], "c"))
	wantMissing(t, filepath.Join(lowers[0], "a"))
	wantMissing(t, filepath.Join(lowers[0], "new"))
	l1lowers, _ := o.LowerDirs("l2")
	if len(l1lowers) != 1 || l1lowers[0] != lowers[2] {
		t.Fatalf("LowerDirs(l2) = %v, want [%s]", l1lowers, lowers[2])
	}
	if want := "lowerdir=" + strings.Join(lowers, ":"); !slices.Contains(ms[0].Options, want) {
		t.Fatalf("options %v lack %s", ms[0].Options, want)
	}

	// Multi-layer view: read-only overlay.
	ms, err = o.View("v3", "l3", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Type != "overlay" || slices.ContainsFunc(ms[0].Options, func(s string) bool { return strings.HasPrefix(s, "upperdir=") }) {
		t.Fatalf("view mounts = %+v", ms)
	}
	mv := mount(t, ms)
	wantFile(t, filepath.Join(mv, "a"), "2")
	wantFile(t, filepath.Join(mv, "c"), "c3")
	if err := os.WriteFile(filepath.Join(mv, "z"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Fatalf("write into view: %v, want EROFS", err)
	}

	// Single-layer view: read-only bind.
	ms, err = o.View("v1", "l1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Type != "bind" || !slices.Contains(ms[0].Options, "ro") {
		t.Fatalf("single view mounts = %+v", ms)
	}
	mv1 := mount(t, ms)
	wantFile(t, filepath.Join(mv1, "dir", "x"), "x1")
	if err := os.WriteFile(filepath.Join(mv1, "z"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Fatalf("write into view: %v, want EROFS", err)
	}
	if _, err := o.UpperDir("v1"); !errors.Is(err, ErrInvalidKind) {
		t.Fatalf("UpperDir(view) = %v", err)
	}

	// Mounts() agrees with what Prepare/View returned.
	again, err := o.Mounts("ctr")
	if err != nil || !slices.EqualFunc(again, []Mount{{Type: "overlay", Source: "overlay"}}, func(a, b Mount) bool { return a.Type == b.Type }) {
		t.Fatalf("Mounts(ctr) = %+v, %v", again, err)
	}
	if _, err := o.Mounts("l2"); !errors.Is(err, ErrInvalidKind) {
		t.Fatalf("Mounts(committed) = %v", err)
	}

	// Stat and Walk.
	info, err := o.Stat("ctr")
	if err != nil || info.Kind != KindActive || info.Parent != "l3" || info.Labels["container"] != "web" || info.Created.IsZero() {
		t.Fatalf("Stat(ctr) = %+v, %v", info, err)
	}
	info, _ = o.Stat("l1")
	if info.Kind != KindCommitted || info.Parent != "" || info.Labels["stage"] != "unpack" {
		t.Fatalf("Stat(l1) = %+v", info)
	}
	got := map[string]Info{}
	if err := o.Walk(func(i Info) error { got[i.Name] = i; return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]Kind{"l1": KindCommitted, "l2": KindCommitted, "l3": KindCommitted, "ctr": KindActive, "v3": KindView, "v1": KindView}
	if len(got) != len(want) {
		t.Fatalf("Walk = %v", got)
	}
	for n, k := range want {
		if got[n].Kind != k {
			t.Errorf("Walk %s kind = %v, want %v", n, got[n].Kind, k)
		}
	}
	if got["l3"].Parent != "l2" || got["v3"].Parent != "l3" {
		t.Errorf("Walk parents wrong: %+v", got)
	}
}

func TestRemove(t *testing.T) {
	e := newEnv(t)
	o := e.o
	commitBase(t, o)
	if _, err := o.Prepare("c1", "base", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := o.View("v1", "base", nil); err != nil {
		t.Fatal(err)
	}
	if err := o.Remove("base"); !errors.Is(err, ErrInUse) {
		t.Fatalf("Remove(parent) = %v, want ErrInUse", err)
	}
	if err := o.Remove("c1"); err != nil {
		t.Fatal(err)
	}
	if err := o.Remove("base"); !errors.Is(err, ErrInUse) {
		t.Fatalf("Remove(parent of view) = %v, want ErrInUse", err)
	}
	if err := o.Remove("v1"); err != nil {
		t.Fatal(err)
	}
	if err := o.Remove("base"); err != nil {
		t.Fatal(err)
	}
	if err := o.Remove("base"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove = %v", err)
	}
	if n := rootEntries(t, e.root); len(n) != 0 {
		t.Fatalf("root not empty after removing everything: %v", n)
	}
	n := 0
	o.Walk(func(Info) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d records left", n)
	}
}

// RemoveWith removes in one transaction with the caller's changes: when
// they fail, the snapshot is whole again; when they commit, it is gone with
// its directory. A missing snapshot leaves the caller's changes to commit.
// commitBase makes the committed snapshot "base".
func commitBase(t *testing.T, o *Overlay) {
	t.Helper()
	if _, err := o.Prepare("base-tmp", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit("base", "base-tmp"); err != nil {
		t.Fatal(err)
	}
}

// markCaller is a caller's own change in a snapshotter's transaction.
func markCaller(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists([]byte("caller"))
	if err != nil {
		return err
	}
	return b.Put([]byte("k"), []byte("v"))
}

func TestRemoveWith(t *testing.T) {
	e := newEnv(t)
	o := e.o
	if _, err := o.Prepare("c1", "", nil); err != nil {
		t.Fatal(err)
	}
	up, err := o.UpperDir("c1")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(up, "f"), "data")
	callerFailed := errors.New("caller's own write failed")
	_, err = o.RemoveWith("c1", func(*bolt.Tx) error { return callerFailed })
	if !errors.Is(err, callerFailed) {
		t.Fatalf("RemoveWith = %v, want the caller's error", err)
	}
	if _, err := o.Stat("c1"); err != nil {
		t.Fatalf("snapshot gone after a failed transaction: %v", err)
	}
	wantFile(t, filepath.Join(up, "f"), "data")

	deleteDir, err := o.RemoveWith("c1", markCaller)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Stat("c1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat after RemoveWith = %v", err)
	}
	if n := rootEntries(t, e.root); len(n) != 1 || !strings.HasPrefix(n[0], trashPrefix) {
		t.Fatalf("before deleteDir, want the directory moved aside: %v", n)
	}
	deleteDir()
	if n := rootEntries(t, e.root); len(n) != 0 {
		t.Fatalf("root not empty: %v", n)
	}
	e.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("caller")) })
	if deleteDir, err := o.RemoveWith("c1", markCaller); err != nil {
		t.Fatalf("RemoveWith of a removed snapshot = %v", err)
	} else {
		deleteDir()
	}
	e.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("caller")); b == nil || string(b.Get([]byte("k"))) != "v" {
			t.Errorf("the caller's change was not committed without the snapshot")
		}
		return nil
	})
}

// PrepareWith creates in one transaction with the caller's changes: when
// they fail, nothing of the snapshot is left, not even its directory; when
// they commit, the snapshot is whole. A volatile snapshot is the same but
// for the syncs, and Cleanup drops one whose directory a crash lost.
func TestPrepareWith(t *testing.T) {
	for _, volatile := range []bool{false, true} {
		t.Run(fmt.Sprintf("volatile=%v", volatile), func(t *testing.T) {
			e := newEnv(t)
			o := e.o
			commitBase(t, o)
			before := rootEntries(t, e.root)
			callerFailed := errors.New("caller's own write failed")
			if _, err := o.PrepareWith("c1", "base", nil, volatile, func(*bolt.Tx) error { return callerFailed }); !errors.Is(err, callerFailed) {
				t.Fatalf("PrepareWith = %v, want the caller's error", err)
			}
			if _, err := o.Stat("c1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Stat after a failed PrepareWith = %v", err)
			}
			if after := rootEntries(t, e.root); !slices.Equal(after, before) {
				t.Fatalf("a failed PrepareWith left directories: %v, before %v", after, before)
			}

			mounts, err := o.PrepareWith("c1", "base", map[string]string{"container": "x"}, volatile, markCaller)
			if err != nil {
				t.Fatal(err)
			}
			if len(mounts) != 1 {
				t.Fatalf("mounts = %+v", mounts)
			}
			info, err := o.Stat("c1")
			if err != nil || info.Kind != KindActive || info.Parent != "base" || info.Labels["container"] != "x" {
				t.Fatalf("Stat = %+v, %v", info, err)
			}
			up, err := o.UpperDir("c1")
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(up, "f"), "data")
			e.db.View(func(tx *bolt.Tx) error {
				if b := tx.Bucket([]byte("caller")); b == nil || string(b.Get([]byte("k"))) != "v" {
					t.Errorf("the caller's change was not committed with the snapshot")
				}
				return nil
			})

			// A crash of the machine lost the new directory: Cleanup
			// drops the record it left.
			if err := os.RemoveAll(filepath.Dir(up)); err != nil {
				t.Fatal(err)
			}
			if err := o.Cleanup(); err != nil {
				t.Fatal(err)
			}
			if _, err := o.Stat("c1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Stat of a snapshot without its directory after Cleanup = %v", err)
			}
			if _, err := o.Stat("base"); err != nil {
				t.Fatalf("Cleanup dropped the parent: %v", err)
			}
		})
	}
}

func TestCommitChildMovesInParentIndex(t *testing.T) {
	e := newEnv(t)
	o := e.o
	o.Prepare("a-tmp", "", nil)
	o.Commit("a", "a-tmp")
	o.Prepare("b-tmp", "a", nil)
	if err := o.Commit("b", "b-tmp"); err != nil {
		t.Fatal(err)
	}
	if err := o.Remove("a"); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("Remove(a) = %v, want in use by b", err)
	}
	if err := o.Remove("b"); err != nil {
		t.Fatal(err)
	}
	if err := o.Remove("a"); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	o := e.o
	if _, err := o.Prepare("", "", nil); err == nil {
		t.Fatal("empty key accepted")
	}
	if _, err := o.Prepare("a", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Prepare("a", "", nil); !errors.Is(err, ErrExists) {
		t.Fatalf("dup Prepare = %v", err)
	}
	if _, err := o.View("a", "", nil); !errors.Is(err, ErrExists) {
		t.Fatalf("dup View = %v", err)
	}
	if _, err := o.Prepare("b", "a", nil); !errors.Is(err, ErrInvalidKind) {
		t.Fatalf("Prepare on active parent = %v", err)
	}
	if _, err := o.Prepare("b", "nope", nil); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Prepare on missing parent = %v", err)
	}
	if _, err := o.View("v", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit("x", "v"); !errors.Is(err, ErrInvalidKind) {
		t.Fatalf("Commit(view) = %v", err)
	}
	if err := o.Commit("x", "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Commit(missing) = %v", err)
	}
	if err := o.Commit("v", "a"); !errors.Is(err, ErrExists) {
		t.Fatalf("Commit onto existing name = %v", err)
	}
	if err := o.Commit("a2", "a"); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit("a3", "a2"); !errors.Is(err, ErrInvalidKind) {
		t.Fatalf("Commit(committed) = %v", err)
	}
	if _, err := o.Usage("missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Usage(missing) = %v", err)
	}
	if _, err := o.LowerDirs("missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LowerDirs(missing) = %v", err)
	}
	if _, err := o.Mounts("missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Mounts(missing) = %v", err)
	}
	// Failed creates leave nothing behind: only the two snapshot dirs.
	if n := rootEntries(t, e.root); len(n) != 2 {
		t.Fatalf("root = %v, want 2 snapshot dirs", n)
	}
	if _, err := NewOverlay(filepath.Join(t.TempDir(), "a:b"), e.db); err == nil {
		t.Fatal("root with ':' accepted")
	}
}

func TestConcurrent(t *testing.T) {
	e := newEnv(t)
	o := e.o
	o.Prepare("base-tmp", "", nil)
	o.Commit("base", "base-tmp")
	var wg sync.WaitGroup
	var mu sync.Mutex
	dupOK := 0
	for i := range 16 {
		wg.Go(func() {
			if _, err := o.Prepare(fmt.Sprintf("c%d", i), "base", nil); err != nil {
				t.Error(err)
			}
			if _, err := o.Prepare("dup", "base", nil); err == nil {
				mu.Lock()
				dupOK++
				mu.Unlock()
			} else if !errors.Is(err, ErrExists) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if dupOK != 1 {
		t.Fatalf("dup key created %d times", dupOK)
	}
	if n := rootEntries(t, e.root); len(n) != 18 {
		t.Fatalf("root has %d entries, want 18: %v", len(n), n)
	}
}

func TestUsage(t *testing.T) {
	e := newEnv(t)
	o := e.o
	if _, err := o.Prepare("u", "", nil); err != nil {
		t.Fatal(err)
	}
	up, _ := o.UpperDir("u")
	u0, err := o.Usage("u")
	if err != nil || u0.Size != 0 || u0.Inodes != 1 {
		t.Fatalf("empty Usage = %+v, %v", u0, err)
	}
	writeFile(t, filepath.Join(up, "f1"), strings.Repeat("x", 1000))
	writeFile(t, filepath.Join(up, "d", "f2"), strings.Repeat("y", 234))
	if err := os.Link(filepath.Join(up, "f1"), filepath.Join(up, "d", "hard")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f1", filepath.Join(up, "sym")); err != nil {
		t.Fatal(err)
	}
	u, err := o.Usage("u")
	if err != nil {
		t.Fatal(err)
	}
	// root, f1(+hard link), d, f2, sym
	if u.Inodes != 5 || u.Size != 1000+234+2 {
		t.Fatalf("Usage = %+v, want {Size:1236 Inodes:5}", u)
	}
	if err := o.Commit("u-c", "u"); err != nil {
		t.Fatal(err)
	}
	if u2, _ := o.Usage("u-c"); u2 != u {
		t.Fatalf("Usage after commit = %+v, want %+v", u2, u)
	}
}

func TestReopen(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	o := e.o
	o.Prepare("l1-tmp", "", nil)
	up, _ := o.UpperDir("l1-tmp")
	writeFile(t, filepath.Join(up, "hello"), "world")
	if err := o.Commit("sha256:aaaa", "l1-tmp"); err != nil {
		t.Fatal(err)
	}
	o.Prepare("l2-tmp", "sha256:aaaa", nil)
	o.Commit("sha256:bbbb", "l2-tmp")
	if _, err := o.Prepare("ctr", "sha256:bbbb", map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	before, _ := o.Mounts("ctr")
	var infosBefore []Info
	o.Walk(func(i Info) error { infosBefore = append(infosBefore, i); return nil })

	e.reopen(t)
	o = e.o
	if err := o.Cleanup(); err != nil {
		t.Fatal(err)
	}
	var infosAfter []Info
	o.Walk(func(i Info) error { infosAfter = append(infosAfter, i); return nil })
	if len(infosAfter) != 3 || len(infosBefore) != 3 {
		t.Fatalf("Walk before %v after %v", infosBefore, infosAfter)
	}
	for i := range infosAfter {
		a, b := infosBefore[i], infosAfter[i]
		if a.Name != b.Name || a.Parent != b.Parent || a.Kind != b.Kind || !a.Created.Equal(b.Created) || fmt.Sprint(a.Labels) != fmt.Sprint(b.Labels) {
			t.Fatalf("info changed across reopen: %+v vs %+v", a, b)
		}
	}
	after, err := o.Mounts("ctr")
	if err != nil || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("Mounts changed across reopen: %v vs %v (%v)", before, after, err)
	}
	m := mount(t, after)
	wantFile(t, filepath.Join(m, "hello"), "world")
	if err := o.Remove("sha256:bbbb"); !errors.Is(err, ErrInUse) {
		t.Fatalf("children index lost across reopen: %v", err)
	}
	// New ids do not collide with old ones.
	if _, err := o.Prepare("ctr2", "sha256:bbbb", nil); err != nil {
		t.Fatal(err)
	}
}

// TestLongLowerdir stacks enough layers under a long root path that the
// absolute lowerdir option exceeds one page, forcing the relative-path
// mount.
func TestLongLowerdir(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	long := filepath.Join(base, strings.Repeat("d", 200), strings.Repeat("e", 200), "snapshots")
	db, err := bolt.Open(filepath.Join(base, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o, err := NewOverlay(long, db)
	if err != nil {
		t.Fatal(err)
	}
	const layers = 20
	parent := ""
	for i := range layers {
		key := fmt.Sprintf("tmp%d", i)
		if _, err := o.Prepare(key, parent, nil); err != nil {
			t.Fatal(err)
		}
		up, _ := o.UpperDir(key)
		writeFile(t, filepath.Join(up, fmt.Sprintf("f%d", i)), fmt.Sprint(i))
		writeFile(t, filepath.Join(up, "top"), fmt.Sprint(i))
		name := fmt.Sprintf("layer%d", i)
		if err := o.Commit(name, key); err != nil {
			t.Fatal(err)
		}
		parent = name
	}
	for _, kind := range []string{"view", "active"} {
		var ms []Mount
		if kind == "view" {
			ms, err = o.View("v", parent, nil)
		} else {
			ms, err = o.Prepare("a", parent, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		if l := len(strings.Join(ms[0].Options, ",")); l <= maxData {
			t.Fatalf("options only %d bytes; test does not exercise the long path", l)
		}
		m := mount(t, ms)
		wantFile(t, filepath.Join(m, "f0"), "0")
		wantFile(t, filepath.Join(m, fmt.Sprintf("f%d", layers-1)), fmt.Sprint(layers-1))
		wantFile(t, filepath.Join(m, "top"), fmt.Sprint(layers-1))
		if kind == "active" {
			writeFile(t, filepath.Join(m, "w"), "ok")
			up, _ := o.UpperDir("a")
			wantFile(t, filepath.Join(up, "w"), "ok")
		}
	}
	// The process working directory is untouched.
	if wd, _ := os.Getwd(); strings.Contains(wd, "ddddd") {
		t.Fatalf("cwd leaked: %s", wd)
	}
}

func TestTooManyLayersErrorsClearly(t *testing.T) {
	data := []string{"lowerdir=" + strings.Repeat("/x/"+strings.Repeat("y", 30)+":", 300) + "/x/z"}
	err := mountOverlay("overlay", t.TempDir(), 0, data)
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("err = %v", err)
	}
}

func TestRelativeOverlayOptions(t *testing.T) {
	dir, out := relativeOverlayOptions([]string{"index=off", "workdir=/r/s/3/work", "upperdir=/r/s/3/fs", "lowerdir=/r/s/2/fs:/r/s/1/fs"})
	if dir != "/r/s" || strings.Join(out, ",") != "index=off,workdir=3/work,upperdir=3/fs,lowerdir=2/fs:1/fs" {
		t.Fatalf("got %q %q", dir, out)
	}
}

func TestUnmountHelpers(t *testing.T) {
	requireRoot(t)
	d := t.TempDir()
	if err := Unmount(d); err != nil {
		t.Fatalf("Unmount(not mounted) = %v", err)
	}
	if err := Unmount(filepath.Join(d, "missing")); err != nil {
		t.Fatalf("Unmount(missing) = %v", err)
	}
	// Stacked mounts all come off.
	for range 3 {
		if err := unix.Mount("tmpfs", d, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
	}
	if err := Unmount(d); err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	unix.Statfs(d, &st)
	if st.Type == unix.TMPFS_MAGIC {
		t.Fatal("still mounted")
	}
	// A failing mount in MountAll undoes the earlier ones.
	err := MountAll([]Mount{
		{Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
		{Type: "bind", Source: filepath.Join(d, "nonexistent"), Options: []string{"rbind"}},
	}, d)
	if err == nil {
		t.Fatal("MountAll succeeded")
	}
	unix.Statfs(d, &st)
	if st.Type == unix.TMPFS_MAGIC {
		Unmount(d)
		t.Fatal("MountAll left a mount behind")
	}
}

func BenchmarkPrepareCommit(b *testing.B) {
	e := newEnv(b)
	o := e.o
	if _, err := o.Prepare("base-tmp", "", nil); err != nil {
		b.Fatal(err)
	}
	if err := o.Commit("base", "base-tmp"); err != nil {
		b.Fatal(err)
	}
	parent := "base"
	for i := 0; b.Loop(); i++ {
		key, name := fmt.Sprintf("k%d", i), fmt.Sprintf("sha256:%064d", i)
		if _, err := o.Prepare(key, parent, nil); err != nil {
			b.Fatal(err)
		}
		if err := o.Commit(name, key); err != nil {
			b.Fatal(err)
		}
		// Keep chains shallow-ish but realistic.
		if i%50 == 49 {
			parent = "base"
		} else {
			parent = name
		}
	}
}

// A volatile writable layer mounts, keeps what is written to it across a
// clean unmount, and mounts again (the kernel's incompat marker is dropped);
// Volatile leaves read-only and bind mounts alone.
func TestVolatile(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	if _, err := e.o.Prepare("base-tmp", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.o.Commit("base", "base-tmp"); err != nil {
		t.Fatal(err)
	}
	ms, err := e.o.Prepare("ctr", "base", nil)
	if err != nil {
		t.Fatal(err)
	}
	vs := Volatile(ms)
	if !slices.Contains(vs[0].Options, "volatile") || slices.Contains(ms[0].Options, "volatile") {
		t.Fatalf("Volatile(%+v) = %+v: want the option added to a copy", ms, vs)
	}
	view, err := e.o.View("v", "base", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := Volatile(view); !slices.Equal(got[0].Options, view[0].Options) {
		t.Fatalf("Volatile changed a read-only mount: %+v", got)
	}
	target := t.TempDir()
	for i := range 2 {
		if err := MountAll(vs, target); err != nil {
			t.Fatalf("mount %d: %v", i, err)
		}
		if i == 0 {
			writeFile(t, filepath.Join(target, "f"), "kept")
		} else {
			wantFile(t, filepath.Join(target, "f"), "kept")
		}
		info, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(info), target+" ") || !strings.Contains(string(info), "volatile") {
			t.Fatalf("no volatile overlay on %s", target)
		}
		if err := Unmount(target); err != nil {
			t.Fatal(err)
		}
	}
}
