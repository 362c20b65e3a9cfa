package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func mountOverlay(t *testing.T, target string, lowers []string, upper, work string) {
	t.Helper()
	opts := "lowerdir=" + strings.Join(lowers, ":")
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + work + ",index=off,metacopy=off,redirect_dir=off"
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		t.Skipf("cannot mount overlay (%s): %v", opts, err)
	}
	t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
}

func baseLayer(t *testing.T) []byte {
	return mkTar(t,
		dirE("etc/"),
		fileE("etc/passwd", "root:x:0:0\n"),
		fileE("etc/hosts", "127.0.0.1 localhost\n"),
		dirE("etc/conf.d/"),
		fileE("etc/conf.d/a.conf", "a"),
		fileE("etc/conf.d/b.conf", "b"),
		dirE("usr/"), dirE("usr/bin/"), dirE("usr/lib/"),
		fileE("usr/bin/tool", "#!tool").with(func(h *tar.Header) { h.Mode = 0o4755 }),
		linkE("usr/bin/tool2", "usr/bin/tool"),
		fileE("usr/lib/libc.so", "elf"),
		symlinkE("lib", "usr/lib"),
		dirE("var/"), dirE("var/cache/"), dirE("var/cache/x/"), fileE("var/cache/x/y", "data"),
		dirE("opt/"), dirE("opt/app/"), fileE("opt/app/old1", "1"), dirE("opt/app/sub/"), fileE("opt/app/sub/x", "x"),
		dirE("dev/"), nodeE("dev/null", tar.TypeChar, 1, 3).with(func(h *tar.Header) { h.Mode = 0o666 }),
	)
}

// TestWriteDiffRoundTrip changes files through an overlay mount, turns the
// upper dir into a layer with WriteDiff, applies it as a second layer and
// checks that the two layers show the same tree as the original mount.
func TestWriteDiffRoundTrip(t *testing.T) {
	requireRoot(t)
	tmp := t.TempDir()
	mk := func(name string) string {
		p := filepath.Join(tmp, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base, upper, work, merged := mk("base"), mk("upper"), mk("work"), mk("merged")
	if err := apply(t, base, baseLayer(t)); err != nil {
		t.Fatal(err)
	}
	mountOverlay(t, merged, []string{base}, upper, work)

	m := func(p string) string { return filepath.Join(merged, p) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(m("etc/hosts"), os.O_APPEND|os.O_WRONLY, 0)
	must(err)
	_, err = f.WriteString("10.0.0.1 db\n")
	must(err)
	must(f.Close())
	must(os.WriteFile(m("etc/new.conf"), []byte("new"), 0o600))
	must(os.Remove(m("etc/conf.d/a.conf")))
	must(os.RemoveAll(m("var/cache/x")))
	must(os.RemoveAll(m("opt/app")))
	must(os.Mkdir(m("opt/app"), 0o750))
	must(os.WriteFile(m("opt/app/new"), []byte("fresh"), 0o644))
	must(os.Chmod(m("usr/bin/tool"), 0o700))
	must(os.Chown(m("etc/passwd"), 1000, 1000))
	must(os.Mkdir(m("newdir"), 0o755))
	must(os.WriteFile(m("newdir/a"), []byte("linked"), 0o644))
	must(os.Link(m("newdir/a"), m("newdir/b")))
	must(unix.Setxattr(m("newdir/a"), "user.foo", []byte("bar"), 0))
	must(os.Symlink("../etc/hosts", m("newdir/l")))
	must(unix.Mkfifo(m("newdir/fifo"), 0o640))
	must(unix.Mknod(m("newdir/zero"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))))
	old := time.Unix(1234567890, 0)
	must(os.Chtimes(m("newdir/a"), old, old))

	want := snapshot(t, merged, true)
	must(unix.Unmount(merged, 0))

	// overlayfs must have made the recreated dir opaque and whited out the rest.
	if v, err := getXattr(filepath.Join(upper, "opt/app"), overlayOpaqueXattr); err != nil || string(v) != "y" {
		t.Fatalf("opt/app in upper is not opaque: %q %v", v, err)
	}

	changes, err := Changes(context.Background(), upper, []string{base})
	must(err)
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	wantChanges := []string{
		"C /etc", "D /etc/conf.d/a.conf", "C /etc/conf.d", "C /etc/hosts", "A /etc/new.conf", "C /etc/passwd",
		"A /newdir", "A /newdir/a", "A /newdir/b", "A /newdir/fifo", "A /newdir/l", "A /newdir/zero",
		"C /opt", "C /opt/app", "A /opt/app/new", "D /opt/app/old1", "D /opt/app/sub", "D /opt/app/sub/x",
		"C /usr", "C /usr/bin", "C /usr/bin/tool",
		"C /var", "C /var/cache", "D /var/cache/x",
	}
	slices.SortFunc(wantChanges, func(a, b string) int { return strings.Compare(a[2:], b[2:]) })
	if !slices.Equal(got, wantChanges) {
		t.Errorf("Changes:\n got %q\nwant %q", got, wantChanges)
	}

	var diff1, diff2 bytes.Buffer
	n, err := WriteDiff(context.Background(), &diff1, upper)
	must(err)
	if n != int64(diff1.Len()) {
		t.Errorf("WriteDiff returned %d, wrote %d", n, diff1.Len())
	}
	_, err = WriteDiff(context.Background(), &diff2, upper)
	must(err)
	if !bytes.Equal(diff1.Bytes(), diff2.Bytes()) {
		t.Errorf("WriteDiff is not reproducible")
	}
	names := tarNames(t, diff1.Bytes())
	for _, want := range []string{"etc/conf.d/.wh.a.conf", "var/cache/.wh.x", "opt/app/", "opt/app/.wh..wh..opq", "newdir/b"} {
		if !slices.Contains(names, want) {
			t.Errorf("diff lacks %q: %q", want, names)
		}
	}
	if i := slices.Index(names, "opt/app/"); i < 0 || i+1 >= len(names) || names[i+1] != "opt/app/.wh..wh..opq" {
		t.Errorf("opaque marker does not follow its dir: %q", names)
	}
	checkTarHeaders(t, diff1.Bytes())

	layer := mk("layer")
	if err := apply(t, layer, diff1.Bytes()); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(layer, "etc/conf.d/a.conf")); st.Mode != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("whiteout not applied: %o", st.Mode)
	} else if h := tarHeader(t, diff1.Bytes(), "etc/conf.d/.wh.a.conf"); st.Mtim.Nano() != h.ModTime.UnixNano() {
		t.Errorf("whiteout mtime %v, its entry's %v", time.Unix(0, st.Mtim.Nano()), h.ModTime)
	}
	if a, b := lstat(t, filepath.Join(layer, "newdir/a")), lstat(t, filepath.Join(layer, "newdir/b")); a.Ino != b.Ino {
		t.Errorf("hardlink lost")
	}

	// Round trip of the round trip: the applied layer writes the same diff.
	var diff3 bytes.Buffer
	_, err = WriteDiff(context.Background(), &diff3, layer)
	must(err)
	if !bytes.Equal(diff1.Bytes(), diff3.Bytes()) {
		t.Errorf("WriteDiff(Apply(WriteDiff(upper))) differs from WriteDiff(upper)")
	}

	merged2 := mk("merged2")
	mountOverlay(t, merged2, []string{layer, base}, "", "")
	if d := diffSnapshots(want, snapshot(t, merged2, true)); d != "" {
		t.Errorf("layers do not reproduce the overlay:\n%s", d)
	}
}

func tarHeader(t *testing.T, data []byte, name string) *tar.Header {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no entry %q: %v", name, err)
		}
		if h.Name == name {
			return h
		}
	}
}

func tarNames(t *testing.T, data []byte) []string {
	var names []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// checkTarHeaders checks the reproducibility rules on every header.
func checkTarHeaders(t *testing.T, data []byte) {
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uname != "" || h.Gname != "" || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() || h.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: not reproducible: %+v", h.Name, h)
		}
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, paxXattrPrefix+"trusted.overlay.") {
				t.Errorf("%s: leaks %s", h.Name, k)
			}
		}
	}
}

// TestChangesLowerLayers checks lookups through several lowers with their own
// whiteouts and opaque dirs, without mounting anything.
func TestChangesLowerLayers(t *testing.T) {
	requireRoot(t)
	tmp := t.TempDir()
	bottom, top, upper := filepath.Join(tmp, "bottom"), filepath.Join(tmp, "top"), filepath.Join(tmp, "upper")
	for _, d := range []string{bottom, top, upper} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := apply(t, bottom, mkTar(t,
		dirE("a/"), fileE("a/x", "x"), fileE("a/y", "y"),
		dirE("b/"), fileE("b/z", "z"),
		fileE("c", "c"),
		dirE("d/"), fileE("d/1", "1"), dirE("d/2/"), fileE("d/2/3", "3"),
	)); err != nil {
		t.Fatal(err)
	}
	if err := apply(t, top, mkTar(t,
		dirE("a/"), fileE("a/.wh.x", ""),
		dirE("b/"), fileE("b/.wh..wh..opq", ""), fileE("b/w", "w"),
		fileE(".wh.c", ""),
		dirE("d/"), fileE("d/4", "4"),
	)); err != nil {
		t.Fatal(err)
	}
	if err := apply(t, upper, mkTar(t,
		dirE("a/"), fileE("a/x", "again"), // whited out in top: added
		dirE("b/"), fileE("b/z", "z2"), fileE("b/w", "w2"), // z hidden by top's opaque b
		fileE("c", "c2"), // whited out in top
		dirE("d/"), fileE("d/.wh..wh..opq", ""), fileE("d/1", "1b"),
		fileE(".wh.gone", ""),
	)); err != nil {
		t.Fatal(err)
	}
	changes, err := Changes(context.Background(), upper, []string{top, bottom})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(changes)
	want := "[C /a A /a/x C /b C /b/w A /b/z A /c C /d C /d/1 D /d/2 D /d/2/3 D /d/4 D /gone]"
	if got != want {
		t.Errorf("Changes:\n got %s\nwant %s", got, want)
	}
}
