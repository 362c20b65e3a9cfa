package volumes

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func lstat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	return &st
}

func isRoot() bool { return os.Geteuid() == 0 }

// buildImage makes an image root with a rich /data tree.
func buildImage(t *testing.T) (rootfs string, xattrs bool) {
	t.Helper()
	rootfs = t.TempDir()
	d := filepath.Join(rootfs, "data")
	must(t, os.MkdirAll(filepath.Join(d, "sub", "deep"), 0o755))
	must(t, os.WriteFile(filepath.Join(d, "a"), []byte("hello"), 0o644))
	must(t, os.WriteFile(filepath.Join(d, "sub", "deep", "f"), []byte("deep"), 0o600))
	must(t, os.Link(filepath.Join(d, "a"), filepath.Join(d, "sub", "a-hard")))
	must(t, os.Symlink("a", filepath.Join(d, "rel-link")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(d, "abs-link")))
	must(t, os.Symlink("../../../../../../etc", filepath.Join(d, "sub", "escape")))
	must(t, os.WriteFile(filepath.Join(d, "suid"), []byte("#!/bin/sh\n"), 0o755))
	must(t, unix.Mkfifo(filepath.Join(d, "fifo"), 0o620))
	must(t, os.Mkdir(filepath.Join(d, "sticky"), 0o755))
	if isRoot() {
		must(t, unix.Mknod(filepath.Join(d, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(t, os.Lchown(filepath.Join(d, "a"), 123, 456))
		must(t, os.Lchown(filepath.Join(d, "rel-link"), 7, 8))
		must(t, os.Lchown(filepath.Join(d, "sub"), 1000, 1000))
		must(t, os.Lchown(d, 1000, 1001))
	}
	// chmod after chown (chown clears set-id bits).
	must(t, unix.Chmod(filepath.Join(d, "suid"), 0o4755))
	must(t, unix.Chmod(filepath.Join(d, "sticky"), 0o1777))
	must(t, unix.Chmod(filepath.Join(d, "a"), 0o640))
	must(t, unix.Chmod(d, 0o750))
	err := unix.Lsetxattr(filepath.Join(d, "a"), "user.ctrd.test", []byte("v1"), 0)
	xattrs = err == nil
	if xattrs {
		must(t, unix.Lsetxattr(d, "user.ctrd.dir", []byte("dv"), 0))
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(d, "sub", "deep", "f"), old, old))
	must(t, os.Chtimes(filepath.Join(d, "sub", "deep"), old, old))
	return rootfs, xattrs
}

func TestCopyUpKeepsEverything(t *testing.T) {
	rootfs, xattrs := buildImage(t)
	src := filepath.Join(rootfs, "data")
	volParent := t.TempDir()
	vol := filepath.Join(volParent, "_data")
	must(t, os.Mkdir(vol, 0o755))
	volIno := lstat(t, vol).Ino

	must(t, CopyUp(rootfs, "/data", vol))

	if lstat(t, vol).Ino != volIno {
		t.Fatal("volume directory replaced, not filled")
	}
	// Volume root takes the image directory's owner and mode.
	vs, ss := lstat(t, vol), lstat(t, src)
	if vs.Mode != ss.Mode || vs.Uid != ss.Uid || vs.Gid != ss.Gid {
		t.Errorf("volume root mode/owner %o %d:%d, want %o %d:%d", vs.Mode, vs.Uid, vs.Gid, ss.Mode, ss.Uid, ss.Gid)
	}
	// Every entry: same type, mode, owner; regular files same content;
	// symlinks same target; mtimes of files and dirs kept.
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		must(t, err)
		rel, _ := filepath.Rel(src, p)
		dp := filepath.Join(vol, rel)
		a, b := lstat(t, p), lstat(t, dp)
		if a.Mode != b.Mode {
			t.Errorf("%s: mode %o, want %o", rel, b.Mode, a.Mode)
		}
		if a.Uid != b.Uid || a.Gid != b.Gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", rel, b.Uid, b.Gid, a.Uid, a.Gid)
		}
		if a.Rdev != b.Rdev {
			t.Errorf("%s: rdev %d, want %d", rel, b.Rdev, a.Rdev)
		}
		if fi.Mode().Type() != os.ModeSymlink && a.Mtim != b.Mtim && rel != "." {
			t.Errorf("%s: mtime %v, want %v", rel, b.Mtim, a.Mtim)
		}
		switch fi.Mode().Type() {
		case 0:
			x, _ := os.ReadFile(p)
			y, _ := os.ReadFile(dp)
			if string(x) != string(y) {
				t.Errorf("%s: content %q, want %q", rel, y, x)
			}
		case os.ModeSymlink:
			x, _ := os.Readlink(p)
			y, _ := os.Readlink(dp)
			if x != y {
				t.Errorf("%s: link %q, want %q", rel, y, x)
			}
		}
		return nil
	})
	must(t, err)

	// Hardlinks stay hardlinks.
	if lstat(t, filepath.Join(vol, "a")).Ino != lstat(t, filepath.Join(vol, "sub", "a-hard")).Ino {
		t.Error("hardlink broken into two files")
	}
	if lstat(t, filepath.Join(vol, "a")).Nlink != 2 {
		t.Error("hardlink count")
	}
	// Set-id and sticky bits.
	if lstat(t, filepath.Join(vol, "suid")).Mode&unix.S_ISUID == 0 {
		t.Error("setuid bit lost")
	}
	if lstat(t, filepath.Join(vol, "sticky")).Mode&unix.S_ISVTX == 0 {
		t.Error("sticky bit lost")
	}
	if xattrs {
		buf := make([]byte, 64)
		n, err := unix.Lgetxattr(filepath.Join(vol, "a"), "user.ctrd.test", buf)
		if err != nil || string(buf[:n]) != "v1" {
			t.Errorf("file xattr: %q %v", buf[:n], err)
		}
		n, err = unix.Lgetxattr(vol, "user.ctrd.dir", buf)
		if err != nil || string(buf[:n]) != "dv" {
			t.Errorf("volume root xattr: %q %v", buf[:n], err)
		}
	} else {
		t.Log("no user xattrs on this filesystem; xattr checks skipped")
	}
	if !isRoot() {
		t.Log("not root: owner and device checks are trivial")
	}
	// No temp dir left next to the volume.
	entries, _ := os.ReadDir(volParent)
	if len(entries) != 1 {
		t.Errorf("leftovers beside the volume: %v", entries)
	}
}

func TestCopyUpSkips(t *testing.T) {
	rootfs, _ := buildImage(t)
	must(t, os.WriteFile(filepath.Join(rootfs, "file"), []byte("x"), 0o644))

	newVol := func() string {
		v := filepath.Join(t.TempDir(), "_data")
		must(t, os.Mkdir(v, 0o755))
		return v
	}
	isEmpty := func(v string) bool {
		e, err := isEmptyDir(v)
		must(t, err)
		return e
	}

	// Not in the image, a file in the image, a path under a file.
	for _, p := range []string{"/nope", "/nope/deeper", "/file", "/file/x"} {
		v := newVol()
		if err := CopyUp(rootfs, p, v); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if !isEmpty(v) {
			t.Errorf("%s: volume filled", p)
		}
	}

	// A volume with content is left alone.
	v := newVol()
	must(t, os.WriteFile(filepath.Join(v, "mine"), []byte("keep"), 0o600))
	must(t, CopyUp(rootfs, "/data", v))
	if _, err := os.Stat(filepath.Join(v, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Error("non-empty volume was copied into")
	}
	if b, _ := os.ReadFile(filepath.Join(v, "mine")); string(b) != "keep" {
		t.Error("existing content changed")
	}

	// Second copy-up into the now-filled volume does nothing either.
	v = newVol()
	must(t, CopyUp(rootfs, "/data", v))
	must(t, os.WriteFile(filepath.Join(rootfs, "data", "later"), nil, 0o644))
	must(t, CopyUp(rootfs, "/data", v))
	if _, err := os.Stat(filepath.Join(v, "later")); err == nil {
		t.Error("second copy-up copied again")
	}
}

// TestCopyUpHostileImage: image symlinks on the way to the mount path are
// resolved inside the image root, never on the host.
func TestCopyUpHostileImage(t *testing.T) {
	rootfs := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(rootfs, "etc", "image-marker"), []byte("image"), 0o644))
	must(t, os.Symlink("/etc", filepath.Join(rootfs, "abs")))
	must(t, os.Symlink("../../../../../../../etc", filepath.Join(rootfs, "rel")))
	must(t, os.Symlink("abs", filepath.Join(rootfs, "chain")))

	for _, p := range []string{"/abs", "/rel", "/chain", "/../../etc"} {
		v := filepath.Join(t.TempDir(), "_data")
		must(t, os.Mkdir(v, 0o755))
		if err := CopyUp(rootfs, p, v); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if _, err := os.Stat(filepath.Join(v, "image-marker")); err != nil {
			t.Errorf("%s: image content not copied: %v", p, err)
		}
		if _, err := os.Lstat(filepath.Join(v, "passwd")); err == nil {
			t.Errorf("%s: host /etc/passwd copied into the volume", p)
		}
	}
}

func TestCopyUpConcurrent(t *testing.T) {
	rootfs, _ := buildImage(t)
	v := filepath.Join(t.TempDir(), "_data")
	must(t, os.Mkdir(v, 0o755))
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- CopyUp(rootfs, "/data", v) }()
	}
	for range 4 {
		must(t, <-errs)
	}
	if b, err := os.ReadFile(filepath.Join(v, "a")); err != nil || string(b) != "hello" {
		t.Fatalf("a: %q %v", b, err)
	}
}

func TestCopyUpIntoStoreVolume(t *testing.T) {
	rootfs, _ := buildImage(t)
	e := newStoreEnv(t)
	vol, err := e.s.Create("web", nil)
	must(t, err)
	must(t, CopyUp(rootfs, "/data", vol.Path()))
	if b, _ := os.ReadFile(filepath.Join(vol.Path(), "sub", "deep", "f")); string(b) != "deep" {
		t.Fatal("content not copied")
	}
	entries, _ := os.ReadDir(filepath.Join(e.root, "web"))
	if len(entries) != 1 || entries[0].Name() != "_data" {
		t.Fatalf("volume dir holds %v", entries)
	}
}
