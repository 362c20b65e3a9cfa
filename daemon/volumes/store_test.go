package volumes

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

type storeEnv struct {
	root, dbPath string
	db           *bolt.DB
	s            *Store
}

func newStoreEnv(t *testing.T) *storeEnv {
	t.Helper()
	base := t.TempDir()
	e := &storeEnv{root: filepath.Join(base, "volumes"), dbPath: filepath.Join(base, "metadata.db")}
	e.open(t)
	t.Cleanup(func() { e.db.Close() })
	return e
}

func (e *storeEnv) open(t *testing.T) {
	t.Helper()
	db, err := bolt.Open(e.dbPath, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(e.root, db)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	e.db, e.s = db, s
}

func (e *storeEnv) reopen(t *testing.T) {
	t.Helper()
	e.db.Close()
	e.open(t)
}

func names(vs []Volume) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func TestStoreCreateGetList(t *testing.T) {
	e := newStoreEnv(t)
	v, err := e.s.Create("data", map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "data" || v.Driver != "local" || v.Scope != "local" || v.Anonymous || v.Labels["a"] != "b" || v.CreatedAt.IsZero() {
		t.Fatalf("volume %+v", v)
	}
	if v.Path() != filepath.Join(e.root, "data", "_data") {
		t.Fatalf("Path = %s", v.Path())
	}
	if fi, err := os.Stat(v.Path()); err != nil || !fi.IsDir() {
		t.Fatalf("data dir: %v", err)
	}
	// Create again: same volume, labels unchanged, data kept.
	if err := os.WriteFile(filepath.Join(v.Path(), "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := e.s.Create("data", map[string]string{"other": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, v) {
		t.Fatalf("re-create changed the volume: %+v vs %+v", again, v)
	}
	if b, _ := os.ReadFile(filepath.Join(v.Path(), "f")); string(b) != "x" {
		t.Fatal("re-create lost data")
	}

	anon, err := e.s.Create("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !anon.Anonymous || !anonNameRE.MatchString(anon.Name) || anon.Labels == nil {
		t.Fatalf("anonymous volume %+v", anon)
	}
	anon2, _ := e.s.Create("", nil)
	if anon2.Name == anon.Name {
		t.Fatal("two anonymous volumes share a name")
	}

	got, err := e.s.Get("data")
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := e.s.Get("nope"); !errors.Is(err, ErrNotFound) || err.Error() != "get nope: no such volume" {
		t.Fatalf("Get missing: %v", err)
	}
	list, err := e.s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || !sort.StringsAreSorted(names(list)) || !slices.Contains(names(list), "data") {
		t.Fatalf("List = %v", names(list))
	}

	for _, bad := range []string{"a", "../x", "a/b", ".trash-x", "-x"} {
		if _, err := e.s.Create(bad, nil); err == nil {
			t.Errorf("Create(%q) accepted", bad)
		}
	}
}

func TestStoreRemove(t *testing.T) {
	e := newStoreEnv(t)
	v, _ := e.s.Create("data", nil)
	os.WriteFile(filepath.Join(v.Path(), "f"), []byte("x"), 0o644)

	inUse := func(name string) []string {
		if name == "data" {
			return []string{"web", "db"}
		}
		return nil
	}
	err := e.s.Remove("data", inUse)
	if !errors.Is(err, ErrInUse) || err.Error() != "remove data: volume is in use - [web, db]" {
		t.Fatalf("Remove in use: %v", err)
	}
	if _, err := os.Stat(filepath.Join(v.Path(), "f")); err != nil {
		t.Fatal("refused removal touched the data")
	}
	if _, err := e.s.Get("data"); err != nil {
		t.Fatal("refused removal dropped the record")
	}
	if err := e.s.Remove("data", func(string) []string { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.root, "data")); !os.IsNotExist(err) {
		t.Fatalf("volume dir still there: %v", err)
	}
	if _, err := e.s.Get("data"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record still there: %v", err)
	}
	if err := e.s.Remove("data", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove missing: %v", err)
	}
	entries, _ := os.ReadDir(e.root)
	if len(entries) != 0 {
		t.Fatalf("leftovers in root: %v", entries)
	}
}

func TestStorePrune(t *testing.T) {
	e := newStoreEnv(t)
	named, _ := e.s.Create("named", nil)
	usedNamed, _ := e.s.Create("used-named", nil)
	a1, _ := e.s.Create("", nil)
	a2, _ := e.s.Create("", nil)
	os.WriteFile(filepath.Join(a1.Path(), "big"), make([]byte, 1<<20), 0o644)
	used := map[string][]string{a2.Name: {"web"}, usedNamed.Name: {"db"}}
	usedBy := func(n string) []string { return used[n] }

	removed, reclaimed, err := e.s.Prune(usedBy, false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(removed, []string{a1.Name}) {
		t.Fatalf("prune removed %v", removed)
	}
	if reclaimed < 1<<20 {
		t.Fatalf("reclaimed %d bytes", reclaimed)
	}
	removed, _, err = e.s.Prune(usedBy, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(removed, []string{named.Name}) {
		t.Fatalf("prune -a removed %v", removed)
	}
	list, _ := e.s.List()
	want := []string{a2.Name, usedNamed.Name}
	if !reflect.DeepEqual(names(list), want) {
		t.Fatalf("left %v, want %v", names(list), want)
	}
}

func TestStorePersistence(t *testing.T) {
	e := newStoreEnv(t)
	v, _ := e.s.Create("data", map[string]string{"k": "v"})
	anon, _ := e.s.Create("", nil)
	os.WriteFile(filepath.Join(v.Path(), "f"), []byte("x"), 0o644)
	e.reopen(t)
	list, err := e.s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("after reopen: %v", names(list))
	}
	got, _ := e.s.Get("data")
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("after reopen %+v, want %+v", got, v)
	}
	if got, _ := e.s.Get(anon.Name); !got.Anonymous {
		t.Fatal("anonymous flag lost")
	}
	if b, _ := os.ReadFile(filepath.Join(got.Path(), "f")); string(b) != "x" {
		t.Fatal("data lost")
	}
}

// TestStoreReconcile simulates crashes: an interrupted removal (trash), an
// interrupted copy-up, a Create cut before its record, a record whose
// directory vanished.
func TestStoreReconcile(t *testing.T) {
	e := newStoreEnv(t)
	kept, _ := e.s.Create("kept", nil)
	lost, _ := e.s.Create("lost", nil)
	e.db.Close()

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(e.root, ".trash-old-123", "_data", "x"), 0o755))
	must(os.MkdirAll(filepath.Join(e.root, "kept", ".copyup-abc", "half"), 0o755))
	must(os.MkdirAll(filepath.Join(e.root, "orphan", "_data"), 0o755))
	must(os.WriteFile(filepath.Join(e.root, "orphan", "_data", "f"), []byte("keep me"), 0o644))
	anonName := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	must(os.MkdirAll(filepath.Join(e.root, anonName, "_data"), 0o755))
	must(os.MkdirAll(filepath.Join(e.root, "nodata"), 0o755)) // no _data: left alone
	must(os.RemoveAll(filepath.Join(e.root, "lost")))

	e.open(t)
	if _, err := os.Stat(filepath.Join(e.root, ".trash-old-123")); !os.IsNotExist(err) {
		t.Error("trash not removed")
	}
	if _, err := os.Stat(filepath.Join(e.root, "kept", ".copyup-abc")); !os.IsNotExist(err) {
		t.Error("copy-up leftover not removed")
	}
	if _, err := os.Stat(kept.Path()); err != nil {
		t.Error(err)
	}
	o, err := e.s.Get("orphan")
	if err != nil || o.Anonymous {
		t.Fatalf("orphan not adopted as named: %+v %v", o, err)
	}
	if b, _ := os.ReadFile(filepath.Join(o.Path(), "f")); string(b) != "keep me" {
		t.Error("orphan data lost")
	}
	if a, err := e.s.Get(anonName); err != nil || !a.Anonymous {
		t.Errorf("anonymous orphan: %+v %v", a, err)
	}
	if _, err := e.s.Get("nodata"); err == nil {
		t.Error("dir without _data adopted")
	}
	if fi, err := os.Stat(lost.Path()); err != nil || !fi.IsDir() {
		t.Errorf("lost data dir not recreated: %v", err)
	}
}

func TestStoreConcurrentCreate(t *testing.T) {
	e := newStoreEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 16 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := e.s.Create("shared", nil)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := e.s.Create("", nil)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	list, _ := e.s.List()
	if len(list) != 17 {
		t.Fatalf("%d volumes, want 17", len(list))
	}
}
