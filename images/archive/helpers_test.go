package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ent is one tar entry for mkTar.
type ent struct {
	h    *tar.Header
	body string
}

var testTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

func fileE(name, body string) ent {
	return ent{h: &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: testTime}, body: body}
}

func dirE(name string) ent {
	return ent{h: &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: testTime}}
}

func symlinkE(name, target string) ent {
	return ent{h: &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: testTime}}
}

func linkE(name, target string) ent {
	return ent{h: &tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: testTime}}
}

func nodeE(name string, typ byte, major, minor int64) ent {
	return ent{h: &tar.Header{Typeflag: typ, Name: name, Mode: 0o600, Devmajor: major, Devminor: minor, ModTime: testTime}}
}

// with applies f to the entry's header.
func (e ent) with(f func(h *tar.Header)) ent { f(e.h); return e }

func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		if e.h.Format == tar.FormatUnknown && (len(e.h.PAXRecords) > 0 || e.h.ModTime.Nanosecond() != 0) {
			e.h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(e.h); err != nil {
			t.Fatalf("tar header %q: %v", e.h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// describe returns a one-line description of path p (not following a final
// symlink): type, mode, owner, size and content hash or target or device,
// nlink, mtime (seconds) and xattrs except trusted.overlay.*.
func describe(t testing.TB, p string, withTimes bool) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%07o %d:%d", st.Mode, st.Uid, st.Gid)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, " size=%d sha=%x nlink=%d", len(data), sha256.Sum256(data), st.Nlink)
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, " -> %s", target)
	case unix.S_IFCHR, unix.S_IFBLK:
		fmt.Fprintf(&b, " dev=%d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if withTimes {
		fmt.Fprintf(&b, " mtime=%d", st.Mtim.Sec)
	}
	var xb []byte
	names, err := listXattrs(p, &xb)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, overlayXattrPrefix) && n != overlayOpaqueXattr {
			continue
		}
		v, err := getXattr(p, n)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, " %s=%q", n, v)
	}
	return b.String()
}

// snapshot describes every path under root (root itself as ".").
func snapshot(t testing.TB, root string, withTimes bool) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		m[rel] = describe(t, p, withTimes && rel != ".")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func diffSnapshots(want, got map[string]string) string {
	var out []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			out = append(out, fmt.Sprintf("missing %s: %s", k, v))
		} else if g != v {
			out = append(out, fmt.Sprintf("differs %s:\n\twant %s\n\tgot  %s", k, v, g))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("extra %s: %s", k, v))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

func lstat(t testing.TB, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat: %v", err)
	}
	return st
}

func requireRoot(t testing.TB) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// forEachMode runs f with Apply writing files sequentially and with workers.
func forEachMode(t *testing.T, f func(t *testing.T)) {
	for _, workers := range []int{0, applyWorkers} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			defer func(w int) { applyWorkers = w }(applyWorkers)
			applyWorkers = workers
			f(t)
		})
	}
}

// Scenarios that both Apply and Validate are tested on.

// manyFiles is 200 files of growing size in dir: enough for Apply to hand
// them to its workers.
func manyFiles(dir string) []ent {
	var ents []ent
	for i := 0; i < 200; i++ {
		ents = append(ents, fileE(fmt.Sprintf("%s/f%03d", dir, i), strings.Repeat("x", i*50)))
	}
	return ents
}

// orderingEnts are entries that depend on earlier ones (written by workers
// meanwhile): a directory replaced by a symlink to outside, a file
// replaced by a directory, a hard link, a whiteout and a rewrite.
func orderingEnts(outside string) []ent {
	var ents []ent
	ents = append(ents, dirE("d/"))
	ents = append(ents, manyFiles("d")...)
	ents = append(ents, symlinkE("d", outside), fileE("d/passwd", "inside"))
	ents = append(ents, fileE("a", "file"), dirE("a/"), fileE("a/x", "y"))
	ents = append(ents, fileE("x", "data"), linkE("y", "x"))
	ents = append(ents, dirE("w/"))
	ents = append(ents, manyFiles("w")...)
	ents = append(ents, fileE(".wh.w", ""))
	ents = append(ents, manyFiles("v")...)
	return append(ents, fileE("v/f001", "last"), fileE("v/f002", "").with(func(h *tar.Header) { h.Mode = 0o4711 }))
}

// workerErrorEnts has, among small files a worker writes, one with an
// xattr the kernel refuses (a bad security.capability value).
func workerErrorEnts() []ent {
	var ents []ent
	for i := 0; i < 100; i++ {
		ents = append(ents, fileE(fmt.Sprintf("f%03d", i), "x"))
	}
	ents = append(ents, xattrE(fileE("bad", "x"), capsXattr, "bogus"))
	for i := 0; i < 100; i++ {
		ents = append(ents, fileE(fmt.Sprintf("g%03d", i), "x"))
	}
	return ents
}

// recordPaddedTar is a tar padded, as tar(1) writes it, to whole 10 KiB
// records.
func recordPaddedTar(t testing.TB) []byte {
	data := mkTar(t, fileE("a", "a"))
	return append(data, make([]byte, 10240-len(data)%10240)...)
}
