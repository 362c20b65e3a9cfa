package content

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/opencontainers/go-digest"
)

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteCommitRead(t *testing.T) {
	s, root := newStore(t)
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	want := digest.FromBytes(data)

	w, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Write in uneven chunks.
	for off := 0; off < len(data); {
		n := min(len(data)-off, 65537)
		if _, err := w.Write(data[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	if w.Size() != int64(len(data)) || w.Digest() != want {
		t.Fatalf("size/digest = %d %s, want %d %s", w.Size(), w.Digest(), len(data), want)
	}
	if len(dirEntries(t, filepath.Join(root, "ingest"))) != 1 {
		t.Fatal("expected one temp file in ingest while writing")
	}
	got, err := w.Commit(want)
	if err != nil || got != want {
		t.Fatalf("Commit = %s, %v", got, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after Commit: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Commit succeeded")
	}
	if n := dirEntries(t, filepath.Join(root, "ingest")); len(n) != 0 {
		t.Fatalf("ingest not empty after commit: %v", n)
	}
	p := filepath.Join(root, "blobs", "sha256", want.Encoded())
	if s.Path(want) != p {
		t.Fatalf("Path = %q, want %q", s.Path(want), p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("blob mode = %v, want 0444", fi.Mode().Perm())
	}
	size, err := s.Info(want)
	if err != nil || size != int64(len(data)) {
		t.Fatalf("Info = %d, %v", size, err)
	}
	b, err := s.ReadAll(want)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("ReadAll mismatch (err %v)", err)
	}
	f, err := s.Open(want)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(f)
	f.Close()
	if !bytes.Equal(b, data) {
		t.Fatal("Open content mismatch")
	}
}

func TestCommitWithoutExpected(t *testing.T) {
	s, _ := newStore(t)
	w, _ := s.Writer()
	w.Write([]byte("hello"))
	d, err := w.Commit("")
	if err != nil || d != digest.FromString("hello") {
		t.Fatalf("Commit = %s, %v", d, err)
	}
	if _, err := w.Commit(""); err == nil {
		t.Fatal("second Commit succeeded")
	}
}

func TestDigestMismatch(t *testing.T) {
	s, root := newStore(t)
	wrong := digest.FromString("something else")
	w, _ := s.Writer()
	w.Write([]byte("hello"))
	if _, err := w.Commit(wrong); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Commit err = %v, want ErrDigestMismatch", err)
	}
	w.Close()
	if _, err := s.Put([]byte("hello"), wrong); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Put err = %v, want ErrDigestMismatch", err)
	}
	if n := dirEntries(t, filepath.Join(root, "ingest")); len(n) != 0 {
		t.Fatalf("ingest not empty: %v", n)
	}
	if n := dirEntries(t, filepath.Join(root, "blobs", "sha256")); len(n) != 0 {
		t.Fatalf("blobs not empty: %v", n)
	}
}

func TestExistingBlob(t *testing.T) {
	s, root := newStore(t)
	d1, err := s.Put([]byte(`{"a":1}`), "")
	if err != nil {
		t.Fatal(err)
	}
	// Same data through a Writer: temp dropped, same digest.
	w, _ := s.Writer()
	w.Write([]byte(`{"a":1}`))
	d2, err := w.Commit(d1)
	if err != nil || d2 != d1 {
		t.Fatalf("Commit existing = %s, %v", d2, err)
	}
	// Put with expected digest of an existing blob short-circuits.
	d3, err := s.Put([]byte(`{"a":1}`), d1)
	if err != nil || d3 != d1 {
		t.Fatalf("Put existing = %s, %v", d3, err)
	}
	// ... but still refuses lying callers.
	if _, err := s.Put([]byte(`{"a":2}`), d1); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Put wrong data for existing digest: %v", err)
	}
	if n := dirEntries(t, filepath.Join(root, "ingest")); len(n) != 0 {
		t.Fatalf("ingest not empty: %v", n)
	}
	if n := dirEntries(t, filepath.Join(root, "blobs", "sha256")); len(n) != 1 {
		t.Fatalf("blobs = %v, want 1", n)
	}
}

func TestBadDigests(t *testing.T) {
	s, _ := newStore(t)
	good := digest.FromString("x").Encoded()
	bad := []digest.Digest{
		"sha256:../../x",
		"sha256:../../../../etc/passwd",
		digest.Digest("sha256:" + good[:63]),
		digest.Digest("sha256:" + good + "0"),
		digest.Digest("sha256:" + good[:60] + "/../"),
		digest.Digest("sha256:ABCDEF" + good[6:]),
		digest.Digest("sha512:" + good + good),
		digest.Digest("sha384:" + good[:48] + good[:48]),
		digest.Digest("sha512:" + good),
		"md5:d41d8cd98f00b204e9800998ecf8427e",
		digest.Digest(good),
		"",
		"sha256:",
	}
	for _, d := range bad {
		if p := s.Path(d); p != "" {
			t.Errorf("Path(%q) = %q, want empty", d, p)
		}
		if _, err := s.Info(d); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("Info(%q) err = %v", d, err)
		}
		if _, err := s.ReadAll(d); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("ReadAll(%q) err = %v", d, err)
		}
		if _, err := s.Open(d); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("Open(%q) err = %v", d, err)
		}
		if err := s.Delete(d); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("Delete(%q) err = %v", d, err)
		}
		if d == "" {
			continue // "" means "don't verify" for Put/Commit
		}
		if _, err := s.Put([]byte("x"), d); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("Put(%q) err = %v", d, err)
		}
	}
}

func TestOpenCleansIngest(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.Put([]byte("keep me"), "")
	// Simulate a crash mid-write: an open writer never committed or closed,
	// plus junk of other shapes.
	w, _ := s.Writer()
	w.Write([]byte("half a blob"))
	os.WriteFile(filepath.Join(root, "ingest", "w-stale"), []byte("x"), 0o600)
	os.MkdirAll(filepath.Join(root, "ingest", "somedir", "sub"), 0o700)

	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if n := dirEntries(t, filepath.Join(root, "ingest")); len(n) != 0 {
		t.Fatalf("stale ingest files survived Open: %v", n)
	}
	if b, err := s2.ReadAll(d); err != nil || string(b) != "keep me" {
		t.Fatalf("committed blob lost: %q %v", b, err)
	}
	// The dead writer cannot resurrect anything.
	if _, err := w.Commit(""); err == nil {
		t.Fatal("commit of a writer whose temp file was cleaned up succeeded")
	}
}

func TestWalkDelete(t *testing.T) {
	s, root := newStore(t)
	var want []string
	for _, v := range []string{"a", "bb", "ccc"} {
		d, err := s.Put([]byte(v), "")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, d.String())
	}
	// Junk in the blob dir is ignored by Walk.
	os.WriteFile(filepath.Join(root, "blobs", "sha256", "not-a-digest"), nil, 0o600)
	sort.Strings(want)
	sizes := map[digest.Digest]int64{}
	var got []string
	err := s.Walk(func(d digest.Digest, size int64) error {
		got = append(got, d.String())
		sizes[d] = size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("Walk = %v, want %v", got, want)
	}
	if sizes[digest.FromString("ccc")] != 3 {
		t.Fatalf("sizes = %v", sizes)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.Walk(func(digest.Digest, int64) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Walk did not stop: %v %d", err, n)
	}

	d := digest.FromString("bb")
	if err := s.Delete(d); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(d); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := s.Info(d); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Info after delete: %v", err)
	}
	if _, err := s.ReadAll(d); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadAll after delete: %v", err)
	}
	if _, err := s.Open(d); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open after delete: %v", err)
	}
	// Walk may delete as it goes.
	err = s.Walk(func(d digest.Digest, _ int64) error { return s.Delete(d) })
	if err != nil {
		t.Fatal(err)
	}
	n = 0
	s.Walk(func(digest.Digest, int64) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d blobs left", n)
	}
}

func TestCorruptBlobDetected(t *testing.T) {
	s, _ := newStore(t)
	d, _ := s.Put([]byte(`{"ok":true}`), "")
	p := s.Path(d)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte(`{"ok":false}`), 0o644)
	if _, err := s.ReadAll(d); err == nil {
		t.Fatal("ReadAll returned corrupt data")
	}
}

func TestAbortRemovesTemp(t *testing.T) {
	s, root := newStore(t)
	w, _ := s.Writer()
	w.Write([]byte("abandoned"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := dirEntries(t, filepath.Join(root, "ingest")); len(n) != 0 {
		t.Fatalf("ingest not empty: %v", n)
	}
	if _, err := w.Commit(""); err == nil {
		t.Fatal("Commit after Close succeeded")
	}
}

func BenchmarkPut(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 4096)
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		data[0], data[1], data[2], data[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		if _, err := s.Put(data, ""); err != nil {
			b.Fatal(err)
		}
	}
}
