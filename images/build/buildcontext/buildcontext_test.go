package buildcontext

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestScanIgnore(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"Dockerfile":          "FROM x\n",
		".dockerignore":       "# comment\n*.log\n!keep.log\nbuild/\nsecret*\nDockerfile\n.dockerignore\ndocs/**/*.tmp\n",
		"a.txt":               "a",
		"x.log":               "x",
		"keep.log":            "k",
		"build/out.bin":       "o",
		"secret.key":          "s",
		"docs/a/b/draft.tmp":  "t",
		"docs/a/b/final.md":   "f",
		"src/main.go":         "m",
		"src/nested/deep.log": "d",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("a.txt", filepath.Join(dir, "link"))
	c, err := Scan(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".dockerignore", "Dockerfile", "a.txt", "docs", "docs/a", "docs/a/b", "docs/a/b/final.md", "keep.log", "link", "src", "src/main.go", "src/nested", "src/nested/deep.log"} // *.log is anchored at the root
	if got := c.Files(); !reflect.DeepEqual(got, want) {
		t.Errorf("files:\n got %q\nwant %q", got, want)
	}
	c.Add(".dockerfile.x", []byte("FROM y\n"))
	var buf bytes.Buffer
	n, err := c.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo: %d %v", n, err)
	}
	tr := tar.NewReader(&buf)
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[h.Name] = h
	}
	if h := seen["a.txt"]; h == nil || h.Mode != 0o640 || h.Uid != 0 || h.Size != 1 {
		t.Errorf("a.txt header %+v", h)
	}
	if h := seen["link"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "a.txt" {
		t.Errorf("link header %+v", h)
	}
	if h := seen["src/"]; h == nil || h.Typeflag != tar.TypeDir {
		t.Errorf("src/ header %+v", h)
	}
	if seen[".dockerfile.x"] == nil || len(seen) != len(want)+1 {
		t.Errorf("entries %d, want %d", len(seen), len(want)+1)
	}
}

func TestScanErrors(t *testing.T) {
	if _, err := Scan(filepath.Join(t.TempDir(), "nope"), ""); err == nil {
		t.Error("missing directory accepted")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Scan(f, ""); err == nil {
		t.Error("a file accepted as context")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("[\n"), 0o644)
	if _, err := Scan(dir, ""); err == nil {
		t.Error("a bad pattern accepted")
	}
}

func TestWithinAndIsTar(t *testing.T) {
	dir := t.TempDir()
	if rel, ok := Within(dir, filepath.Join(dir, "sub", "Dockerfile")); !ok || rel != "sub/Dockerfile" {
		t.Errorf("Within inside: %q %v", rel, ok)
	}
	if _, ok := Within(dir, filepath.Join(dir, "..", "Dockerfile")); ok {
		t.Error("Within outside")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "x", Mode: 0o644})
	tw.Close()
	if !IsTar(buf.Bytes()) || IsTar([]byte("FROM busybox\n")) {
		t.Error("IsTar")
	}
}
