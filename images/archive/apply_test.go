package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func apply(t testing.TB, dir string, data []byte) error {
	t.Helper()
	n, err := Apply(context.Background(), dir, bytes.NewReader(data))
	if err == nil && n != int64(len(data)) {
		t.Errorf("Apply read %d bytes, want %d", n, len(data))
	}
	return err
}

// capV2 is a valid VFS_CAP_REVISION_2 security.capability value granting
// cap_net_bind_service (effective, permitted).
func capV2() string {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000001)
	binary.LittleEndian.PutUint32(b[4:], 1<<10)
	return string(b)
}

// Times of entryTypeEnts.
var (
	entryTypesMtime = time.Date(2020, 1, 2, 3, 4, 5, 123456789, time.UTC)
	entryTypesAtime = time.Date(2019, 6, 7, 8, 9, 10, 0, time.UTC)
)

// entryTypeEnts has every entry type, with modes, owners, times and
// xattrs to keep.
func entryTypeEnts() []ent {
	mtime, atime := entryTypesMtime, entryTypesAtime
	return []ent{
		dirE("./").with(func(h *tar.Header) { h.Mode = 0o751 }),
		dirE("etc/").with(func(h *tar.Header) { h.Mode = 0o750; h.Uid, h.Gid = 1000, 1001; h.ModTime = mtime }),
		fileE("etc/passwd", "root:x:0:0::/root:/bin/sh\n").with(func(h *tar.Header) {
			h.Uid, h.Gid = 12, 34
			h.ModTime, h.AccessTime = mtime, atime
			h.Format = tar.FormatPAX
		}),
		fileE("etc/empty", ""),
		dirE("usr/bin/"),
		fileE("usr/bin/su", "#!suid").with(func(h *tar.Header) { h.Mode = 0o4755; h.Uid, h.Gid = 0, 42 }),
		fileE("usr/bin/sg", "#!sgid").with(func(h *tar.Header) { h.Mode = 0o2711; h.Uid, h.Gid = 7, 42 }),
		fileE("usr/bin/ping", "#!ping").with(func(h *tar.Header) {
			h.Mode = 0o755
			h.Uid, h.Gid = 5, 5
			h.PAXRecords = map[string]string{
				"SCHILY.xattr.security.capability": capV2(),
				"SCHILY.xattr.user.comment":        "pong",
				"SCHILY.xattr.trusted.overlay.x":   "ignored",
			}
		}),
		linkE("usr/bin/ping6", "usr/bin/ping"),
		dirE("tmp/").with(func(h *tar.Header) { h.Mode = 0o1777 }),
		dirE("srv/").with(func(h *tar.Header) {
			h.Mode = 0o2775
			h.PAXRecords = map[string]string{"SCHILY.xattr.user.dir": "d"}
		}),
		symlinkE("lib", "usr/lib").with(func(h *tar.Header) { h.Uid, h.Gid = 3, 4; h.ModTime = mtime }),
		symlinkE("abs", "/etc/passwd"),
		dirE("dev/"),
		nodeE("dev/null", tar.TypeChar, 1, 3).with(func(h *tar.Header) { h.Mode = 0o666 }),
		nodeE("dev/loop0", tar.TypeBlock, 7, 0).with(func(h *tar.Header) { h.Uid, h.Gid = 0, 6 }),
		nodeE("dev/fifo", tar.TypeFifo, 0, 0).with(func(h *tar.Header) { h.Mode = 0o620 }),
		fileE("deep/implied/file", "x"),
		fileE("big", strings.Repeat("0123456789abcdef", 300000)),
	}
}

func TestApplyEntryTypes(t *testing.T) {
	requireRoot(t)
	forEachMode(t, func(t *testing.T) {
		mtime, atime := entryTypesMtime, entryTypesAtime
		data := mkTar(t, entryTypeEnts()...)
		root := t.TempDir()
		if err := apply(t, root, data); err != nil {
			t.Fatal(err)
		}

		type want struct {
			mode     uint32
			uid, gid uint32
			mtime    *time.Time
		}
		checks := map[string]want{
			".":            {mode: unix.S_IFDIR | 0o751},
			"etc":          {mode: unix.S_IFDIR | 0o750, uid: 1000, gid: 1001, mtime: &mtime},
			"etc/passwd":   {mode: unix.S_IFREG | 0o644, uid: 12, gid: 34, mtime: &mtime},
			"etc/empty":    {mode: unix.S_IFREG | 0o644, mtime: &testTime},
			"usr":          {mode: unix.S_IFDIR | 0o755},
			"usr/bin/su":   {mode: unix.S_IFREG | 0o4755, gid: 42},
			"usr/bin/sg":   {mode: unix.S_IFREG | 0o2711, uid: 7, gid: 42},
			"usr/bin/ping": {mode: unix.S_IFREG | 0o755, uid: 5, gid: 5},
			"tmp":          {mode: unix.S_IFDIR | 0o1777, mtime: &testTime},
			"srv":          {mode: unix.S_IFDIR | 0o2775},
			"lib":          {mode: unix.S_IFLNK | 0o777, uid: 3, gid: 4, mtime: &mtime},
			"dev/null":     {mode: unix.S_IFCHR | 0o666},
			"dev/loop0":    {mode: unix.S_IFBLK | 0o600, gid: 6},
			"dev/fifo":     {mode: unix.S_IFIFO | 0o620, mtime: &testTime},
			"deep/implied": {mode: unix.S_IFDIR | 0o755},
		}
		for p, w := range checks {
			st := lstat(t, filepath.Join(root, p))
			if st.Mode != w.mode || st.Uid != w.uid || st.Gid != w.gid {
				t.Errorf("%s: mode %o uid %d gid %d, want %o %d %d", p, st.Mode, st.Uid, st.Gid, w.mode, w.uid, w.gid)
			}
			if w.mtime != nil && (st.Mtim.Sec != w.mtime.Unix() || st.Mtim.Nsec != int64(w.mtime.Nanosecond())) {
				t.Errorf("%s: mtime %v, want %v", p, time.Unix(st.Mtim.Unix()), *w.mtime)
			}
		}
		if st := lstat(t, filepath.Join(root, "etc/passwd")); st.Atim.Sec != atime.Unix() {
			t.Errorf("etc/passwd atime %d, want %d", st.Atim.Sec, atime.Unix())
		}
		if b, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); string(b) != "root:x:0:0::/root:/bin/sh\n" {
			t.Errorf("etc/passwd content %q", b)
		}
		if b, _ := os.ReadFile(filepath.Join(root, "big")); len(b) != 16*300000 {
			t.Errorf("big: %d bytes", len(b))
		}
		for p, target := range map[string]string{"lib": "usr/lib", "abs": "/etc/passwd"} {
			if got, err := os.Readlink(filepath.Join(root, p)); err != nil || got != target {
				t.Errorf("readlink %s = %q, %v; want %q", p, got, err, target)
			}
		}
		for p, dev := range map[string][2]uint32{"dev/null": {1, 3}, "dev/loop0": {7, 0}} {
			st := lstat(t, filepath.Join(root, p))
			if unix.Major(st.Rdev) != dev[0] || unix.Minor(st.Rdev) != dev[1] {
				t.Errorf("%s: dev %d,%d want %v", p, unix.Major(st.Rdev), unix.Minor(st.Rdev), dev)
			}
		}
		ping, ping6 := lstat(t, filepath.Join(root, "usr/bin/ping")), lstat(t, filepath.Join(root, "usr/bin/ping6"))
		if ping.Ino != ping6.Ino || ping.Nlink != 2 {
			t.Errorf("ping6 not a hardlink of ping: ino %d/%d nlink %d", ping.Ino, ping6.Ino, ping.Nlink)
		}
		xattrs := map[string]map[string]string{
			"usr/bin/ping": {"security.capability": capV2(), "user.comment": "pong"},
			"srv":          {"user.dir": "d"},
		}
		for p, want := range xattrs {
			for k, v := range want {
				got, err := getXattr(filepath.Join(root, p), k)
				if err != nil || string(got) != v {
					t.Errorf("%s: xattr %s = %q, %v; want %q", p, k, got, err, v)
				}
			}
		}
		if _, err := getXattr(filepath.Join(root, "usr/bin/ping"), "trusted.overlay.x"); !errors.Is(err, unix.ENODATA) {
			t.Errorf("trusted.overlay.x from the tar was set (err %v)", err)
		}
	})
}

func TestApplyWhiteouts(t *testing.T) {
	requireRoot(t)
	forEachMode(t, func(t *testing.T) {
		root := t.TempDir()
		// A previous state of the directory (as if earlier entries put it there).
		if err := apply(t, root, mkTar(t,
			fileE("gone", "x"),
			dirE("gonedir/"), fileE("gonedir/a", "a"), dirE("gonedir/sub/"),
			dirE("sub/"), fileE("sub/old", "old"),
			symlinkE("link", "/etc"),
		)); err != nil {
			t.Fatal(err)
		}
		if err := apply(t, root, mkTar(t,
			fileE(".wh.gone", "").with(func(h *tar.Header) { h.Uid, h.Gid = 0, 0 }),
			fileE(".wh.gonedir", ""),
			fileE(".wh.link", ""),
			fileE(".wh.neverwas", ""),
			dirE("sub/"),
			fileE("sub/.wh..wh..opq", ""),
			fileE("sub/keep", "keep"),
			fileE("new/.wh..wh..opq", ""),
			fileE("new/.wh.x", ""),
			fileE(".wh..wh.plnk", ""),
		)); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"gone", "gonedir", "link", "neverwas", "new/x"} {
			st := lstat(t, filepath.Join(root, p))
			if st.Mode != unix.S_IFCHR || st.Rdev != 0 {
				t.Errorf("%s: mode %o rdev %d, want a 0/0 char device", p, st.Mode, st.Rdev)
			}
		}
		for _, p := range []string{"sub", "new"} {
			if v, err := getXattr(filepath.Join(root, p), overlayOpaqueXattr); err != nil || string(v) != "y" {
				t.Errorf("%s: opaque xattr %q, %v", p, v, err)
			}
		}
		if b, err := os.ReadFile(filepath.Join(root, "sub/keep")); err != nil || string(b) != "keep" {
			t.Errorf("sub/keep: %q %v", b, err)
		}
		if _, err := os.Lstat(filepath.Join(root, "sub/old")); err != nil {
			t.Errorf("opaque whiteout removed sub/old from the same directory: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(root, ".wh..wh.plnk")); !os.IsNotExist(err) {
			t.Errorf(".wh..wh.plnk created: %v", err)
		}
	})
}

func TestApplyReplace(t *testing.T) {
	requireRoot(t)
	forEachMode(t, func(t *testing.T) {
		outside := t.TempDir()
		outsideFile := filepath.Join(outside, "f")
		if err := os.WriteFile(outsideFile, []byte("outside"), 0o644); err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		if err := apply(t, root, mkTar(t,
			fileE("f2d", "file"),
			dirE("d2f/"), fileE("d2f/child", "c"), dirE("d2f/sub/"), fileE("d2f/sub/x", "x"),
			symlinkE("l2f", outsideFile),
			symlinkE("l2d", outside),
			dirE("d2d/").with(func(h *tar.Header) { h.Mode = 0o700 }), fileE("d2d/keep", "k"),
			fileE("f2l", "f"),
			fileE("f2f", "old"),
			nodeE("n2f", tar.TypeFifo, 0, 0),
		)); err != nil {
			t.Fatal(err)
		}
		if err := apply(t, root, mkTar(t,
			dirE("f2d/"), fileE("f2d/in", "in"),
			fileE("d2f", "now a file"),
			fileE("l2f", "not through the link"),
			dirE("l2d/").with(func(h *tar.Header) { h.Mode = 0o711 }),
			dirE("d2d/").with(func(h *tar.Header) { h.Mode = 0o755; h.Uid = 9 }),
			symlinkE("f2l", "f2f"),
			fileE("f2f", "new"),
			fileE("n2f", "file"),
			// Same path twice in one tar: the last one wins.
			fileE("twice", "1"), fileE("twice", "2"),
		)); err != nil {
			t.Fatal(err)
		}
		read := func(p string) string { b, _ := os.ReadFile(filepath.Join(root, p)); return string(b) }
		if read("f2d/in") != "in" || read("d2f") != "now a file" || read("l2f") != "not through the link" ||
			read("f2f") != "new" || read("n2f") != "file" || read("twice") != "2" || read("d2d/keep") != "k" {
			t.Errorf("unexpected contents: %q %q %q %q %q %q", read("f2d/in"), read("d2f"), read("l2f"), read("f2f"), read("n2f"), read("twice"))
		}
		if st := lstat(t, filepath.Join(root, "l2f")); st.Mode&unix.S_IFMT != unix.S_IFREG {
			t.Errorf("l2f is %o, want a regular file", st.Mode)
		}
		if st := lstat(t, filepath.Join(root, "l2d")); st.Mode != unix.S_IFDIR|0o711 {
			t.Errorf("l2d is %o, want a dir 0711", st.Mode)
		}
		if st := lstat(t, filepath.Join(root, "d2d")); st.Mode != unix.S_IFDIR|0o755 || st.Uid != 9 {
			t.Errorf("d2d: %o uid %d", st.Mode, st.Uid)
		}
		if target, _ := os.Readlink(filepath.Join(root, "f2l")); target != "f2f" {
			t.Errorf("f2l -> %q", target)
		}
		if b, _ := os.ReadFile(outsideFile); string(b) != "outside" {
			t.Errorf("wrote through a symlink to outside: %q", b)
		}
		if st := lstat(t, outside); st.Mode&0o777 == 0o711 {
			t.Errorf("chmod went through a symlink to outside")
		}
	})
}

func TestApplyBadInput(t *testing.T) {
	requireRoot(t)
	for name, data := range map[string][]byte{
		"truncated": mkTar(t, fileE("a", strings.Repeat("x", 5000)))[:2048],
		"not a tar": []byte(strings.Repeat("garbage!", 100)),
	} {
		if err := apply(t, t.TempDir(), data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Empty input is an empty layer.
	if err := apply(t, t.TempDir(), nil); err != nil {
		t.Errorf("empty: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Apply(ctx, t.TempDir(), bytes.NewReader(mkTar(t, fileE("a", "a")))); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestApplyCountsPadding(t *testing.T) {
	requireRoot(t)
	data := recordPaddedTar(t)
	n, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Errorf("Apply = %d, %v; want %d", n, err, len(data))
	}
}

// TestApplyOrdering checks that entries depending on earlier ones see them,
// which matters when small files are written by workers.
func TestApplyOrdering(t *testing.T) {
	requireRoot(t)
	forEachMode(t, func(t *testing.T) {
		outside := t.TempDir()
		ents := orderingEnts(outside)
		root := t.TempDir()
		if err := apply(t, root, mkTar(t, ents...)); err != nil {
			t.Fatal(err)
		}
		if names, _ := os.ReadDir(outside); len(names) != 0 {
			t.Errorf("wrote outside: %v", names)
		}
		read := func(p string) string { b, _ := os.ReadFile(filepath.Join(root, p)); return string(b) }
		if got := read(outside + "/passwd"); got != "inside" { // resolved inside root
			t.Errorf("d/passwd = %q", got)
		}
		if read("a/x") != "y" || read("y") != "data" || read("v/f001") != "last" || read("v/f199") != strings.Repeat("x", 199*50) {
			t.Errorf("a/x=%q y=%q v/f001=%q", read("a/x"), read("y"), read("v/f001"))
		}
		if st := lstat(t, filepath.Join(root, "y")); st.Nlink != 2 {
			t.Errorf("y nlink %d", st.Nlink)
		}
		if st := lstat(t, filepath.Join(root, "w")); st.Mode != unix.S_IFCHR {
			t.Errorf("w: %o, want a whiteout", st.Mode)
		}
		if st := lstat(t, filepath.Join(root, "v/f002")); st.Mode != unix.S_IFREG|0o4711 || st.Size != 0 {
			t.Errorf("v/f002: %o size %d", st.Mode, st.Size)
		}
	})
}

// TestApplyWorkerError checks that an error on a worker stops Apply and is
// returned.
func TestApplyWorkerError(t *testing.T) {
	requireRoot(t)
	forEachMode(t, func(t *testing.T) {
		ents := workerErrorEnts()
		err := apply(t, t.TempDir(), mkTar(t, ents...))
		if err == nil || !strings.Contains(err.Error(), `"bad"`) {
			t.Errorf("err = %v, want an error about \"bad\"", err)
		}
	})
}
