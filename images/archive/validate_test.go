//go:build linux

package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// defaultApplyWorkers is applyWorkers as Apply runs in production.
var defaultApplyWorkers = applyWorkers

// outcome is what Apply or Validate returned.
type outcome struct {
	n   int64
	err error
}

func (o outcome) String() string {
	if o.err == nil {
		return fmt.Sprintf("ok (%d bytes)", o.n)
	}
	return fmt.Sprintf("error %q (unsafe %v)", o.err, errors.Is(o.err, ErrUnsafePath))
}

func withWorkers[T any](workers int, f func() T) T {
	defer func(w int) { applyWorkers = w }(applyWorkers)
	applyWorkers = workers
	return f()
}

// compareValidate applies data into a fresh directory under dir, with
// applyWorkers set to 0 and to its default, validates data with the same
// settings and reports every difference: the errors must be the same,
// message included (but for the target directory's path, which Validate
// does not know), the bytes read on success too. With workers, Apply may
// report the error of a later entry than the first failing one (when a
// worker fails on an earlier one), so its error is only compared when it is
// the error it reports without. An error Apply gets from a path made too
// long by the target directory's path depends on where the layer is applied
// and makes the comparison moot: compareValidate returns false then.
func compareValidate(t testing.TB, dir string, data []byte) bool {
	t.Helper()
	var seqErr string
	for i, workers := range []int{0, defaultApplyWorkers} {
		root := filepath.Join(dir, fmt.Sprintf("root%d", i))
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		real, err := filepath.EvalSymlinks(root)
		if err != nil {
			t.Fatal(err)
		}
		a := withWorkers(workers, func() outcome {
			n, err := Apply(context.Background(), root, bytes.NewReader(data))
			return outcome{n, err}
		})
		v := withWorkers(workers, func() outcome {
			n, err := Validate(context.Background(), bytes.NewReader(data))
			return outcome{n, err}
		})
		var aerr string
		if a.err != nil {
			aerr = strings.ReplaceAll(a.err.Error(), real, "")
		}
		if workers == 0 {
			seqErr = aerr
		}
		compare := a.err != nil && v.err != nil && (workers == 0 || aerr == seqErr)
		differ := (a.err == nil) != (v.err == nil) || compare && aerr != v.err.Error()
		if differ && pathMaxWithRoot(a.err, real) {
			t.Logf("workers=%d: Apply: %v (depends on the target directory's path)", workers, a.err)
			return false
		}
		switch {
		case (a.err == nil) != (v.err == nil):
			t.Errorf("workers=%d:\n\tApply:    %v\n\tValidate: %v", workers, a, v)
		case a.err == nil && a.n != v.n:
			t.Errorf("workers=%d: Apply read %d bytes, Validate %d", workers, a.n, v.n)
		case !compare:
		case errors.Is(a.err, ErrUnsafePath) != errors.Is(v.err, ErrUnsafePath):
			t.Errorf("workers=%d: unsafe path classification differs:\n\tApply:    %v\n\tValidate: %v", workers, a, v)
		case aerr != v.err.Error():
			t.Errorf("workers=%d: messages differ:\n\tApply:    %v\n\tValidate: %v", workers, a, v)
		}
	}
	return true
}

// pathMaxWithRoot reports whether err is Apply's error for a path that is
// too long only with the target directory's path in front of it (Apply
// uses absolute paths to resolve symlinks, remove directories and set xattrs
// on other nodes than regular files), which Validate cannot know: Validate
// refuses the paths too long wherever the target directory is.
func pathMaxWithRoot(err error, root string) bool {
	if err == nil || !errors.Is(err, unix.ENAMETOOLONG) {
		return false
	}
	var pe *pathErr
	switch {
	case errors.As(err, &pe) && strings.HasPrefix(pe.op, "setxattr "):
		return len(root)+1+len(pe.path) >= pathMax
	case strings.Contains(err.Error(), "setting "+overlayOpaqueXattr):
		return true
	}
	_, p, ok := strings.Cut(err.Error(), root)
	p, _, _ = strings.Cut(p, ": ")
	return ok && len(root)+len(p) >= pathMax
}

// caseDir returns a temp dir holding a canary directory (a file "passwd"
// and a dir "e"), as TestApplyHostile's, for entries that point outside the
// target directory; checkCanary checks it is untouched and alone with the
// target directories.
func caseDir(t testing.TB) (dir, canary string) {
	dir = t.TempDir()
	canary = filepath.Join(dir, "canary")
	if err := os.MkdirAll(filepath.Join(canary, "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(canary, "passwd"), []byte("orig"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, canary
}

func checkCanary(t testing.TB, dir, canary string) {
	t.Helper()
	names, _ := os.ReadDir(canary)
	if b, err := os.ReadFile(filepath.Join(canary, "passwd")); err != nil || string(b) != "orig" || len(names) != 2 {
		t.Errorf("canary changed: passwd %q, %v, %d entries", b, err, len(names))
	}
	all, _ := os.ReadDir(dir)
	for _, n := range all {
		if n.Name() != "canary" && !strings.HasPrefix(n.Name(), "root") {
			t.Errorf("%s created next to the target directory", n.Name())
		}
	}
}

// tarCase is a tar built for the canary directory c.
type tarCase struct {
	name string
	data func(t testing.TB, c string) []byte
}

func entsCase(name string, ents func(c string) []ent) tarCase {
	return tarCase{name, func(t testing.TB, c string) []byte { return mkTar(t, ents(c)...) }}
}

func fixedCase(name string, ents ...ent) tarCase {
	return entsCase(name, func(string) []ent { return ents })
}

// concat joins tar entries (without their end-of-archive markers) and adds
// one.
func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return append(b, make([]byte, 1024)...)
}

// entries is mkTar without the end-of-archive marker.
func entries(t testing.TB, ents ...ent) []byte {
	b := mkTar(t, ents...)
	return b[:len(b)-1024]
}

// gnuSparse returns an old-GNU-format sparse file entry of the given real
// size, with data fragments frags ({offset, length}, at most 4) and a data
// section of phys bytes.
func gnuSparse(t testing.TB, name string, realSize int64, frags [][2]int64, phys int) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Typeflag: tar.TypeGNUSparse, Name: name, Size: int64(phys), Mode: 0o644, ModTime: testTime, Format: tar.FormatGNU}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(bytes.Repeat([]byte("s"), phys)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	octal := func(field []byte, v int64) {
		copy(field, fmt.Sprintf("%0*o\x00", len(field)-1, v))
	}
	for i, f := range frags {
		octal(b[386+24*i:][:12], f[0])
		octal(b[386+24*i+12:][:12], f[1])
	}
	octal(b[483:495], realSize)
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// rawHeader returns a USTAR header block.
func rawHeader(name string, typeflag byte, size int) []byte {
	b := make([]byte, 512)
	octal := func(field []byte, v int64) {
		copy(field, fmt.Sprintf("%0*o\x00", len(field)-1, v))
	}
	copy(b, name)
	octal(b[100:108], 0o644)
	octal(b[108:116], 0)
	octal(b[116:124], 0)
	octal(b[124:136], int64(size))
	octal(b[136:148], testTime.Unix())
	b[156] = typeflag
	copy(b[257:], "ustar\x0000")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// padded pads b to a whole number of blocks.
func padded(b []byte) []byte {
	return append(b, make([]byte, -len(b)&511)...)
}

// paxSparse returns a PAX-format (GNU 1.0) sparse file entry of the given
// real size, with data fragments frags ({offset, length}) and phys bytes of
// data after the sparse map.
func paxSparse(name string, realSize int64, frags [][2]int64, phys int) []byte {
	var records string
	for _, kv := range [][2]string{
		{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"},
		{"GNU.sparse.name", name}, {"GNU.sparse.realsize", fmt.Sprint(realSize)},
	} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec) + 1
		for len(fmt.Sprint(n))+len(rec) != n {
			n++
		}
		records += fmt.Sprint(n) + rec
	}
	m := fmt.Sprintf("%d\n", len(frags))
	for _, f := range frags {
		m += fmt.Sprintf("%d\n%d\n", f[0], f[1])
	}
	data := append(padded([]byte(m)), bytes.Repeat([]byte("s"), phys)...)
	var b []byte
	b = append(b, rawHeader("PaxHeaders/"+name, tar.TypeXHeader, len(records))...)
	b = append(b, padded([]byte(records))...)
	b = append(b, rawHeader("GNUSparseFile.0/"+name, tar.TypeReg, len(data))...)
	return append(b, padded(data)...)
}

func capV3(rootid uint32) string {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], 0x03000001)
	binary.LittleEndian.PutUint32(b[4:], 1<<10)
	binary.LittleEndian.PutUint32(b[20:], rootid)
	return string(b)
}

func xattrE(e ent, name, value string) ent {
	return e.with(func(h *tar.Header) {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords[paxXattrPrefix+name] = value
	})
}

// symlinkChain returns symlinks l0 -> l1 -> ... -> l<n-1> -> target.
func symlinkChain(n int, target string) []ent {
	var ents []ent
	for i := 0; i < n; i++ {
		next := target
		if i < n-1 {
			next = fmt.Sprintf("l%d", i+1)
		}
		ents = append(ents, symlinkE(fmt.Sprintf("l%d", i), next))
	}
	return ents
}

// deepName returns a relative path of exactly n bytes (n >= 1) whose
// components have at most 255 bytes.
func deepName(n int) string {
	var parts []string
	l := -1 // length of the parts joined
	for l+201 <= n {
		parts = append(parts, strings.Repeat("p", 200))
		l += 201
	}
	switch r := n - l; {
	case r == 1:
		parts[len(parts)-1] += "p"
	case r >= 2:
		parts = append(parts, strings.Repeat("q", r-1))
	}
	return strings.Join(parts, "/")
}

// hostileCases are the tars of TestApplyHostile.
func hostileCases() []tarCase {
	return []tarCase{
		entsCase("dotdot", func(c string) []ent { return []ent{fileE("../canary/passwd", "pwned")} }),
		entsCase("dotdot x", func(c string) []ent { return []ent{fileE("../x", "pwned")} }),
		entsCase("dotdot only", func(c string) []ent { return []ent{dirE("..")} }),
		entsCase("absolute", func(c string) []ent { return []ent{fileE(c+"/passwd", "pwned")} }),
		entsCase("absolute root", func(c string) []ent { return []ent{dirE("/")} }),
		entsCase("climb", func(c string) []ent { return []ent{fileE("a/../../canary/passwd", "pwned")} }),
		entsCase("climb deeper", func(c string) []ent { return []ent{dirE("a/"), fileE("a/b/../../../x", "pwned")} }),
		entsCase("hardlink dotdot", func(c string) []ent { return []ent{linkE("x", "../../etc/passwd")} }),
		entsCase("hardlink dotdot canary", func(c string) []ent { return []ent{linkE("x", "../canary/passwd")} }),
		entsCase("hardlink absolute", func(c string) []ent { return []ent{linkE("x", "/etc/passwd")} }),
		entsCase("hardlink absolute canary", func(c string) []ent { return []ent{linkE("x", c+"/passwd")} }),
		entsCase("hardlink climb", func(c string) []ent { return []ent{dirE("a/"), linkE("a/x", "a/../../canary/passwd")} }),
		entsCase("symlink dotdot", func(c string) []ent { return []ent{symlinkE("l", "../../.."), fileE("l/x", "pwned")} }),
		entsCase("symlink dotdot nested", func(c string) []ent {
			return []ent{dirE("a/"), symlinkE("a/l", "../.."), fileE("a/l/canary/passwd", "pwned")}
		}),
		entsCase("symlink dotdot to canary", func(c string) []ent { return []ent{symlinkE("l", "../canary")} }),
		entsCase("whiteout dotdot", func(c string) []ent { return []ent{fileE(".wh...", "")} }),
		entsCase("whiteout dot", func(c string) []ent { return []ent{dirE("a/"), fileE("a/.wh..", "")} }),
		entsCase("whiteout empty", func(c string) []ent { return []ent{fileE(".wh.", "")} }),
		entsCase("absolute symlink then write through it", func(c string) []ent {
			return []ent{symlinkE("evil", c), fileE("evil/passwd", "pwned")}
		}),
		entsCase("absolute symlink to a file, then write through its parent", func(c string) []ent {
			return []ent{symlinkE("f", c+"/passwd"), fileE("f/x", "pwned")}
		}),
		entsCase("symlink to root then write", func(c string) []ent {
			return []ent{dirE("a/"), symlinkE("a/l", ".."), fileE("a/l/x", "ok")}
		}),
		entsCase("symlink chain through dot", func(c string) []ent {
			return []ent{symlinkE("a", "."), symlinkE("b", "a/.."), fileE("b/canary/passwd", "pwned")}
		}),
		entsCase("symlink chain absolute", func(c string) []ent {
			return []ent{symlinkE("x1", "x2"), symlinkE("x2", c), fileE("x1/passwd", "pwned")}
		}),
		entsCase("absolute symlink with dotdots", func(c string) []ent {
			return []ent{symlinkE("d", "/../../../../.."+c), fileE("d/passwd", "pwned")}
		}),
		entsCase("symlink in deeper parent", func(c string) []ent {
			return []ent{dirE("a/"), symlinkE("a/b", c), dirE("a/b/e/"), fileE("a/b/e/f", "pwned")}
		}),
		entsCase("symlink loop", func(c string) []ent { return []ent{symlinkE("a", "b"), symlinkE("b", "a"), fileE("a/x", "x")} }),
		entsCase("hardlink through a symlinked parent", func(c string) []ent { return []ent{symlinkE("s", c), linkE("h", "s/passwd")} }),
		entsCase("hardlink to a symlink, then overwrite the link", func(c string) []ent {
			return []ent{symlinkE("s", c+"/passwd"), linkE("h", "s"), fileE("h", "pwned")}
		}),
		entsCase("regular file over a symlink", func(c string) []ent { return []ent{symlinkE("f", c+"/passwd"), fileE("f", "pwned")} }),
		entsCase("device over a symlink", func(c string) []ent {
			return []ent{symlinkE("f", c+"/passwd"), nodeE("f", tar.TypeFifo, 0, 0)}
		}),
		entsCase("whiteout through a symlink", func(c string) []ent { return []ent{symlinkE("s", c), fileE("s/.wh.passwd", "")} }),
		entsCase("opaque through a symlink", func(c string) []ent { return []ent{symlinkE("s", c), fileE("s/.wh..wh..opq", "")} }),
		entsCase("whiteout of a symlink to outside", func(c string) []ent { return []ent{symlinkE("s", c), fileE(".wh.s", "")} }),
		entsCase("dir over a symlink", func(c string) []ent {
			return []ent{symlinkE("s", c), dirE("s/").with(func(h *tar.Header) { h.Mode = 0o700; h.Uid = 99 })}
		}),
		entsCase("dir replaced by a symlink before its times are set", func(c string) []ent {
			return []ent{
				dirE("d/"), dirE("d/e/").with(func(h *tar.Header) { h.ModTime = time.Unix(1e9, 0) }),
				fileE("d/e/x", "x"),
				symlinkE("d", c),
			}
		}),
		entsCase("dir replaced by a symlink then written through", func(c string) []ent {
			return []ent{dirE("a/"), fileE("a/x", "x"), symlinkE("a", c), fileE("a/passwd", "pwned"), nodeE("a/e/n", tar.TypeChar, 1, 3)}
		}),
		entsCase("file replaced by a symlink then hardlinked through", func(c string) []ent {
			return []ent{fileE("passwd", "inner"), dirE("d/"), symlinkE("d", "/"), linkE("h", "d/passwd")}
		}),
		entsCase("parent is a file", func(c string) []ent { return []ent{fileE("f", "f"), fileE("f/x", "x")} }),
		entsCase("hardlink to a directory", func(c string) []ent { return []ent{dirE("d/"), linkE("h", "d")} }),
		entsCase("relative symlink inside is fine", func(c string) []ent {
			return []ent{dirE("a/b/"), symlinkE("a/b/l", "../x"), fileE("a/x", "x"), fileE("a/b/l2/../y", "y")}
		}),
	}
}

// applyTestCases are the tars of apply_test.go and diff_test.go (the layers applied over another are tried alone and after
// it, in one tar).
func applyTestCases() []tarCase {
	entryTypes := entryTypeEnts()
	whiteouts1 := []ent{
		fileE("gone", "x"),
		dirE("gonedir/"), fileE("gonedir/a", "a"), dirE("gonedir/sub/"),
		dirE("sub/"), fileE("sub/old", "old"),
		symlinkE("link", "/etc"),
	}
	whiteouts2 := []ent{
		fileE(".wh.gone", ""), fileE(".wh.gonedir", ""), fileE(".wh.link", ""), fileE(".wh.neverwas", ""),
		dirE("sub/"), fileE("sub/.wh..wh..opq", ""), fileE("sub/keep", "keep"),
		fileE("new/.wh..wh..opq", ""), fileE("new/.wh.x", ""), fileE(".wh..wh.plnk", ""),
	}
	replace1 := func(c string) []ent {
		return []ent{
			fileE("f2d", "file"),
			dirE("d2f/"), fileE("d2f/child", "c"), dirE("d2f/sub/"), fileE("d2f/sub/x", "x"),
			symlinkE("l2f", c+"/passwd"), symlinkE("l2d", c),
			dirE("d2d/").with(func(h *tar.Header) { h.Mode = 0o700 }), fileE("d2d/keep", "k"),
			fileE("f2l", "f"), fileE("f2f", "old"), nodeE("n2f", tar.TypeFifo, 0, 0),
		}
	}
	replace2 := []ent{
		dirE("f2d/"), fileE("f2d/in", "in"),
		fileE("d2f", "now a file"),
		fileE("l2f", "not through the link"),
		dirE("l2d/").with(func(h *tar.Header) { h.Mode = 0o711 }),
		dirE("d2d/").with(func(h *tar.Header) { h.Mode = 0o755; h.Uid = 9 }),
		symlinkE("f2l", "f2f"), fileE("f2f", "new"), fileE("n2f", "file"),
		fileE("twice", "1"), fileE("twice", "2"),
	}
	return []tarCase{
		fixedCase("entry types", entryTypes...),
		fixedCase("whiteouts 1", whiteouts1...),
		fixedCase("whiteouts 2", whiteouts2...),
		fixedCase("whiteouts 1+2", append(append([]ent{}, whiteouts1...), whiteouts2...)...),
		entsCase("replace 1", replace1),
		fixedCase("replace 2", replace2...),
		entsCase("replace 1+2", func(c string) []ent { return append(replace1(c), replace2...) }),
		{"truncated", func(t testing.TB, c string) []byte { return mkTar(t, fileE("a", strings.Repeat("x", 5000)))[:2048] }},
		{"not a tar", func(t testing.TB, c string) []byte { return []byte(strings.Repeat("garbage!", 100)) }},
		{"empty", func(t testing.TB, c string) []byte { return nil }},
		{"record padding", func(t testing.TB, _ string) []byte { return recordPaddedTar(t) }},
		entsCase("ordering", orderingEnts),
		fixedCase("worker error", workerErrorEnts()...),
		{"base layer", func(t testing.TB, c string) []byte { return baseLayer(t.(*testing.T)) }},
	}
}

// ownCases are Validate's own cases: how entries interact, and limits.
func ownCases() []tarCase {
	long := func(n int) string { return strings.Repeat("n", n) }
	cases := []tarCase{
		// Symlinks in parent paths.
		fixedCase("chain of 255 symlinks", append(append(symlinkChain(255, "d"), dirE("d/")), fileE("l0/x", "x"))...),
		fixedCase("chain of 256 symlinks", append(append(symlinkChain(256, "d"), dirE("d/")), fileE("l0/x", "x"))...),
		fixedCase("chain of 256 symlinks to a missing dir", append(symlinkChain(256, "d"), fileE("l0/x", "x"))...),
		fixedCase("chain of 255 symlinks as hardlink parent", append(append(symlinkChain(255, "d"), dirE("d/"), fileE("d/f", "f")), linkE("h", "l0/f"))...),
		fixedCase("chain of 256 symlinks as hardlink parent", append(append(symlinkChain(256, "d"), dirE("d/"), fileE("d/f", "f")), linkE("h", "l0/f"))...),
		fixedCase("self loop", symlinkE("a", "a"), fileE("a/x", "x")),
		fixedCase("absolute self loop", symlinkE("a", "/a"), fileE("a/x", "x")),
		fixedCase("growing loop", symlinkE("a", "a/b"), fileE("a/x", "x")),
		fixedCase("loop as hardlink parent", symlinkE("a", "b"), symlinkE("b", "a"), linkE("h", "a/x")),
		fixedCase("loop, then replaced", symlinkE("a", "b"), symlinkE("b", "a"), dirE("a/"), fileE("a/x", "x"), fileE("b/y", "y")),
		fixedCase("link to /", symlinkE("l", "/"), fileE("l/x", "x"), fileE("l/l/l/y", "y"), linkE("l/h", "l/x"), linkE("h2", "l/l/x")),
		fixedCase("link to / replaced by a dir", symlinkE("l", "/"), dirE("l/"), fileE("l/x", "x")),
		fixedCase("link to / with dotdots", symlinkE("l", "/../.."), fileE("l/x", "x")),
		fixedCase("link to //", symlinkE("l", "//a//b/"), fileE("l/x", "x")),
		fixedCase("relative symlinks through dot", symlinkE("a", "./x/../y"), fileE("a/f", "f"), dirE("c/"), symlinkE("c/d", "../a"), fileE("c/d/g", "g")),
		fixedCase("absolute symlink to absolute symlink", symlinkE("a", "/b"), symlinkE("b", "/c/d"), fileE("a/x", "x"), linkE("h", "c/d/x")),
		fixedCase("dotdot after a file in a symlink", fileE("f", "f"), symlinkE("l", "f/.."), fileE("l/x", "x")),
		fixedCase("dotdot after a missing dir in a symlink", symlinkE("l", "m/../n"), fileE("l/x", "x")),
		fixedCase("symlink to a file", fileE("f", "f"), symlinkE("l", "f"), fileE("l/x", "x")),
		fixedCase("symlink to a file as hardlink parent", fileE("f", "f"), symlinkE("l", "f"), linkE("h", "l/x")),
		fixedCase("symlink to a device", nodeE("n", tar.TypeFifo, 0, 0), symlinkE("l", "/n"), dirE("l/x/")),
		fixedCase("symlink through a file", fileE("f", "f"), symlinkE("l", "f/x"), fileE("l/y", "y")),
		fixedCase("symlink to a symlink in a deeper dir", dirE("a/b/"), symlinkE("a/b/l", "../c"), symlinkE("a/c", "/d"), fileE("a/b/l/x", "x")),
		fixedCase("symlink replaced while used", symlinkE("l", "a"), fileE("l/x", "x"), symlinkE("l", "b"), fileE("l/x", "y"), linkE("h", "a/x")),
		fixedCase("last component is a symlink", symlinkE("l", "d"), dirE("d/"), fileE("l", "f"), fileE("d/x", "x")),
		fixedCase("hardlink named as its symlinked self", dirE("d/"), fileE("d/f", "f"), symlinkE("l", "d"), linkE("l/f", "d/f")),

		// Parents that are not directories.
		fixedCase("file then child", fileE("f", "f"), fileE("f/x", "x")),
		fixedCase("file then grandchild", fileE("f", "f"), dirE("f/x/y/")),
		fixedCase("device then child", nodeE("n", tar.TypeChar, 1, 3), symlinkE("n/l", "x")),
		fixedCase("hardlink then child", fileE("f", "f"), linkE("h", "f"), fileE("h/x", "x")),
		fixedCase("dir replaced by a file then child", dirE("d/"), fileE("d/x", "x"), fileE("d", "f"), fileE("d/y", "y")),
		fixedCase("dir replaced by a file then old child as hardlink target", dirE("d/"), fileE("d/x", "x"), fileE("d", "f"), linkE("h", "d/x")),
		fixedCase("file replaced by a dir then child", fileE("f", "f"), dirE("f/"), fileE("f/x", "x")),
		fixedCase("whiteout then child", dirE("d/"), fileE(".wh.d", ""), fileE("d/x", "x")),
		fixedCase("whiteout then dir", dirE("d/"), fileE("d/x", "x"), fileE(".wh.d", ""), dirE("d/"), fileE("d/y", "y")),
		fixedCase("opaque under a file", fileE("f", "f"), fileE("f/.wh..wh..opq", "")),
		fixedCase("whiteout under a file", fileE("f", "f"), fileE("f/.wh.x", "")),

		// Hardlinks.
		fixedCase("hardlink to missing", linkE("h", "f")),
		fixedCase("hardlink to missing dir", linkE("h", "d/f")),
		fixedCase("hardlink to dir", dirE("d/"), linkE("h", "d")),
		fixedCase("hardlink to implied dir", fileE("d/e/f", "f"), linkE("h", "d/e")),
		fixedCase("hardlink to root child dir over a file", fileE("h", "h"), dirE("d/"), linkE("h", "d")),
		fixedCase("hardlink through a symlink", dirE("d/"), fileE("d/f", "f"), symlinkE("s", "d"), linkE("h", "s/f")),
		fixedCase("hardlink through an absolute symlink", dirE("d/"), fileE("d/f", "f"), symlinkE("s", "/d"), linkE("h", "s/f")),
		fixedCase("hardlink to a replaced file", fileE("f", "f"), dirE("f/"), linkE("h", "f")),
		fixedCase("hardlink to a file replaced by a symlink", fileE("f", "f"), symlinkE("f", "g"), linkE("h", "f"), fileE("h/x", "x")),
		fixedCase("hardlink to itself, missing", linkE("h", "h")),
		fixedCase("hardlink to itself", fileE("h", "h"), linkE("h", "h")),
		fixedCase("hardlink to itself, a dir", dirE("h/"), linkE("h", "h")),
		fixedCase("hardlink to itself through a symlink", dirE("d/"), symlinkE("l", "d"), linkE("l/h", "d/h")),
		fixedCase("hardlink over its own dir", dirE("d/"), fileE("d/f", "f"), linkE("d", "d/f")),
		fixedCase("hardlink over a dir", dirE("d/"), fileE("d/x", "x"), fileE("f", "f"), linkE("d", "f"), fileE("d/y", "y")),
		fixedCase("hardlink to a symlink", symlinkE("s", "d"), linkE("h", "s"), fileE("h/x", "x"), fileE("d/y", "y")),
		fixedCase("hardlink to a whiteout", fileE(".wh.w", ""), linkE("h", "w"), fileE("h/x", "x")),
		fixedCase("hardlink to a device", nodeE("n", tar.TypeBlock, 7, 0), linkE("h", "n")),
		fixedCase("hardlink chain", fileE("a", "a"), linkE("b", "a"), linkE("c", "b"), fileE("a", "new"), linkE("d", "c")),
		fixedCase("hardlink to root", linkE("h", ".")),
		fixedCase("hardlink to root slash", linkE("h", "./")),
		fixedCase("hardlink to empty", linkE("h", "")),

		// Whiteouts.
		fixedCase("whiteout of missing", fileE(".wh.x", ""), fileE("d/.wh.y", "")),
		fixedCase("whiteout of present", fileE("x", "x"), dirE("d/"), fileE("d/y", "y"), fileE(".wh.x", ""), fileE(".wh.d", ""), fileE("d", "z")),
		fixedCase("whiteout as a dir entry", dirE("a/.wh.b/"), dirE(".wh..wh..opq/")),
		fixedCase("whiteout as a symlink", symlinkE(".wh.b", "../.."), linkE(".wh.c", "/")),
		fixedCase("whiteout of a whiteout", fileE(".wh.x", ""), fileE(".wh..wh.x", ""), fileE(".wh.x", "")),
		fixedCase("aufs metadata", fileE(".wh..wh.plnk/x", ""), dirE(".wh..wh.aufs/")),
		fixedCase("opaque dirs", fileE("d/.wh..wh..opq", ""), fileE("d/x", "x"), fileE(".wh..wh..opq", ""), dirE("e/.wh..wh..opq/"), fileE("e/.wh..wh..opq/f", "f")),
		fixedCase("whiteout names", fileE(".wh.a.wh.", ""), fileE(".wh. ", ""), fileE(".wh....", "")),

		// The root.
		fixedCase("root as a dir", dirE("."), dirE("./"), dirE("a/.."), fileE("x", "x")),
		fixedCase("root as a file", fileE(".", "x")),
		fixedCase("root as a file named ./", fileE("a/..", "x")),
		fixedCase("root as a symlink", symlinkE(".", "x")),
		fixedCase("root as a hardlink", fileE("x", "x"), linkE(".", "x")),
		fixedCase("root with a bad xattr", xattrE(dirE("./"), capsXattr, "bogus")),
		fixedCase("empty name", fileE("", "x")),
		fixedCase("names with dots", dirE("./a/./b/"), fileE("a//c", "c"), dirE("a/b/../d/")),

		// Types and formats.
		fixedCase("unsupported type", ent{h: &tar.Header{Typeflag: 'Z', Name: "z", Size: 3, ModTime: testTime}, body: "zzz"}),
		fixedCase("unsupported type under a file", fileE("f", "f"), ent{h: &tar.Header{Typeflag: tar.TypeCont, Name: "f/z", ModTime: testTime}}),
		fixedCase("global header", ent{h: &tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "../../x", PAXRecords: map[string]string{"comment": "c"}}}, fileE("a", "a")),
		fixedCase("empty symlink", symlinkE("l", "")),
		fixedCase("long names in GNU format", fileE(long(200)+"/"+long(150), "x").with(func(h *tar.Header) { h.Format = tar.FormatGNU }),
			symlinkE("l", long(200)).with(func(h *tar.Header) { h.Format = tar.FormatGNU })),
		{"trailing garbage after the end", func(t testing.TB, c string) []byte {
			return append(mkTar(t, fileE("a", "a")), []byte(strings.Repeat("garbage!", 100))...)
		}},
		{"garbage instead of the end", func(t testing.TB, c string) []byte {
			return concat(entries(t, fileE("a", "a")), []byte(strings.Repeat("garbage!", 64)))
		}},
		{"garbage after one zero block", func(t testing.TB, c string) []byte {
			return append(append(entries(t, fileE("a", "a")), make([]byte, 512)...), []byte(strings.Repeat("garbage!", 64))...)
		}},
		{"one zero block", func(t testing.TB, c string) []byte {
			return append(entries(t, fileE("a", "a")), make([]byte, 512)...)
		}},
		{"no end", func(t testing.TB, c string) []byte { return entries(t, fileE("a", "a")) }},
		{"bad checksum", func(t testing.TB, c string) []byte {
			b := mkTar(t, fileE("a", "a"), fileE("b", "b"))
			b[1024+148] ^= 1
			return b
		}},
		{"entry after a bad one", func(t testing.TB, c string) []byte {
			return mkTar(t, fileE("a", "a"), fileE("../x", "x"), fileE("f", "f"), fileE("f/x", "x"))
		}},
		{"format error after a bad entry", func(t testing.TB, c string) []byte {
			return mkTar(t, fileE("f", "f"), fileE("f/x", "x"))[:1536+100]
		}},
	}

	// Truncation everywhere in a small layer, and inside contents that Apply
	// reads whole, copies, or skips.
	layer := func(t testing.TB) []byte {
		return mkTar(t,
			dirE("d/"), fileE("d/small", strings.Repeat("s", 700)), symlinkE("l", "d"),
			fileE("big", strings.Repeat("b", maxJobSize+100)), fileE("z", ""), dirE("e/"),
		)
	}
	// Offsets from the end when negative.
	for _, n := range []int{1, 511, 512, 513, 1024, 1500, 2048, 2100, 3000, 4000, 4608, 5000, 100000, maxJobSize, -2600, -2048, -2000, -1536, -1100, -1024, -600, -512, -1} {
		cases = append(cases, tarCase{fmt.Sprintf("truncated at %d", n), func(t testing.TB, c string) []byte {
			l := layer(t)
			if n < 0 {
				return l[:len(l)+n]
			}
			return l[:n]
		}})
	}

	// Sparse files.
	cases = append(cases,
		tarCase{"sparse", func(t testing.TB, c string) []byte {
			return concat(gnuSparse(t, "s", 10000, [][2]int64{{0, 100}, {5000, 200}}, 300), entries(t, fileE("after", "a")))
		}},
		tarCase{"sparse hole at end", func(t testing.TB, c string) []byte {
			return concat(gnuSparse(t, "s", 1<<20, [][2]int64{{0, 10}}, 10))
		}},
		tarCase{"sparse missing data", func(t testing.TB, c string) []byte {
			return concat(gnuSparse(t, "s", 10000, [][2]int64{{0, 100}, {5000, 200}}, 250), entries(t, fileE("after", "a")))
		}},
		tarCase{"sparse unreferenced data", func(t testing.TB, c string) []byte {
			return concat(gnuSparse(t, "s", 10000, [][2]int64{{0, 100}}, 300), entries(t, fileE("after", "a")))
		}},
		tarCase{"sparse empty with data", func(t testing.TB, c string) []byte {
			return concat(gnuSparse(t, "s", 0, nil, 300), entries(t, fileE("after", "a")))
		}},
		tarCase{"sparse bad map", func(t testing.TB, c string) []byte {
			return concat(gnuSparse(t, "s", 100, [][2]int64{{50, 100}}, 100))
		}},
		tarCase{"sparse under a file", func(t testing.TB, c string) []byte {
			return concat(entries(t, fileE("f", "f")), gnuSparse(t, "f/s", 1000, [][2]int64{{0, 10}}, 10))
		}},
		tarCase{"sparse truncated", func(t testing.TB, c string) []byte {
			return gnuSparse(t, "s", 10000, [][2]int64{{0, 600}}, 600)[:800]
		}},
	)
	// PAX sparse files are regular files to Apply: small ones are read whole
	// (io.ReadFull), before a worker writes them, large ones copied.
	for _, size := range []int64{10000, maxJobSize + 1000} {
		frags := [][2]int64{{0, 100}, {size - 200, 200}}
		cases = append(cases,
			tarCase{fmt.Sprintf("pax sparse %d", size), func(t testing.TB, c string) []byte {
				return concat(paxSparse("s", size, frags, 300), entries(t, fileE("after", "a")))
			}},
			tarCase{fmt.Sprintf("pax sparse %d missing data", size), func(t testing.TB, c string) []byte {
				return concat(paxSparse("s", size, frags, 299), entries(t, fileE("after", "a")))
			}},
			tarCase{fmt.Sprintf("pax sparse %d unreferenced data", size), func(t testing.TB, c string) []byte {
				return concat(paxSparse("s", size, frags, 301), entries(t, fileE("after", "a")))
			}},
			tarCase{fmt.Sprintf("pax sparse %d unreferenced data, last", size), func(t testing.TB, c string) []byte {
				return concat(paxSparse("s", size, frags, 1000))
			}},
			tarCase{fmt.Sprintf("pax sparse %d unreferenced data, then bad entry", size), func(t testing.TB, c string) []byte {
				return concat(paxSparse("s", size, frags, 1000), entries(t, fileE("../x", "x")))
			}},
			tarCase{fmt.Sprintf("pax sparse %d over a dir", size), func(t testing.TB, c string) []byte {
				return concat(entries(t, dirE("s/"), fileE("s/x", "x")), paxSparse("s", size, frags, 1000))
			}},
			tarCase{fmt.Sprintf("pax sparse %d bad map", size), func(t testing.TB, c string) []byte {
				return concat(paxSparse("s", size, [][2]int64{{0, 100}, {size - 10, 200}}, 300))
			}},
		)
	}
	cases = append(cases,
		fixedCase("device numbers", nodeE("c", tar.TypeChar, 4095, 1<<20), nodeE("b", tar.TypeBlock, 1<<31, 1<<31), nodeE("z", tar.TypeChar, 0, 0)),
		fixedCase("odd modes and owners", fileE("f", "f").with(func(h *tar.Header) { h.Mode = 0o777777; h.Uid = -1; h.Gid = 1 << 40 }),
			dirE("d/").with(func(h *tar.Header) { h.Mode = 0; h.Uid = 1 << 32 }), fileE("d/x", "x"),
			nodeE("p", tar.TypeFifo, 0, 0).with(func(h *tar.Header) { h.Mode = -1 })),
		fixedCase("odd times", fileE("f", "f").with(func(h *tar.Header) { h.ModTime = time.Unix(-1<<40, 5) }),
			dirE("d/").with(func(h *tar.Header) { h.ModTime = time.Unix(1<<40, 999999999); h.AccessTime = time.Unix(-5, 0) })),
	)

	// Kernel limits on names, paths, symlink targets and xattrs.
	for _, n := range []int{255, 256} {
		cases = append(cases,
			fixedCase(fmt.Sprintf("file name %d", n), fileE(long(n), "x")),
			fixedCase(fmt.Sprintf("dir name %d", n), dirE(long(n)+"/")),
			fixedCase(fmt.Sprintf("implied dir name %d", n), fileE("a/"+long(n)+"/x", "x")),
			fixedCase(fmt.Sprintf("symlink name %d", n), symlinkE("a/"+long(n), "x")),
			fixedCase(fmt.Sprintf("fifo name %d", n), nodeE(long(n), tar.TypeFifo, 0, 0)),
			fixedCase(fmt.Sprintf("big file name %d", n), fileE(long(n), strings.Repeat("b", maxJobSize+1))),
			fixedCase(fmt.Sprintf("hardlink name %d", n), fileE("f", "f"), linkE(long(n), "f")),
			fixedCase(fmt.Sprintf("hardlink target name %d", n), linkE("h", long(n))),
			fixedCase(fmt.Sprintf("hardlink target dir name %d", n), linkE("h", long(n)+"/f")),
			fixedCase(fmt.Sprintf("whiteout name %d", n), fileE(".wh."+long(n), "")),
			fixedCase(fmt.Sprintf("opaque dir name %d", n), fileE(long(n)+"/.wh..wh..opq", "")),
			fixedCase(fmt.Sprintf("name %d through a symlink", n), dirE("d/"), symlinkE("l", "d"), fileE("l/"+long(n)+"/x", "x")),
			fixedCase(fmt.Sprintf("name %d through a dangling symlink", n), symlinkE("l", "m"), fileE("l/"+long(n)+"/x", "x")),
			fixedCase(fmt.Sprintf("symlink to name %d", n), symlinkE("l", long(n)+"/.."), fileE("l/x", "x")),
			fixedCase(fmt.Sprintf("symlink to name %d in a missing dir", n), symlinkE("l", "m/"+long(n)), fileE("l/x", "x")),
			fixedCase(fmt.Sprintf("symlink to name %d under a file", n), fileE("f", "f"), symlinkE("l", "f/"+long(n)), fileE("l/x", "x")),
			fixedCase(fmt.Sprintf("xattr name %d", n), xattrE(fileE("f", "f"), "user."+long(n-5), "v")),
			fixedCase(fmt.Sprintf("xattr name %d on a symlink", n), xattrE(symlinkE("l", "f"), "user."+long(n-5), "v")),
			fixedCase(fmt.Sprintf("xattr name %d on a dir", n), xattrE(dirE("d/"), "foo."+long(n-4), "v")),
			fixedCase(fmt.Sprintf("xattr name %d on a hardlink", n), fileE("f", "f"), xattrE(linkE("h", "f"), "user."+long(n-5), "v")),
		)
	}
	// longResolve resolves l2 through a path whose absolute form (the
	// root's path, "//" and the path: securejoin's) has n bytes, and back.
	longResolve := func(n int) []ent {
		a, b := deepName(2100), deepName(n-2103)
		ups := strings.Repeat("/..", strings.Count(a, "/")+1+strings.Count(b, "/")+1)
		return []ent{symlinkE("l1", a), symlinkE("l2", "/l1/"+b+ups+"/x"), fileE("l2/y", "y")}
	}
	for _, n := range []int{4095, 4096} {
		cases = append(cases,
			fixedCase(fmt.Sprintf("file path %d", n), fileE(deepName(n), "x")),
			fixedCase(fmt.Sprintf("big file path %d", n), fileE(deepName(n), strings.Repeat("b", maxJobSize+1))),
			fixedCase(fmt.Sprintf("dir path %d", n), dirE(deepName(n)+"/")),
			fixedCase(fmt.Sprintf("implied dir path %d", n), fileE(deepName(n)+"/x", "x")),
			fixedCase(fmt.Sprintf("symlink path %d", n), symlinkE(deepName(n), "x")),
			fixedCase(fmt.Sprintf("hardlink path %d", n), fileE("f", "f"), linkE(deepName(n), "f")),
			fixedCase(fmt.Sprintf("hardlink path %d to missing", n), linkE(deepName(n), "f")),
			fixedCase(fmt.Sprintf("hardlink target path %d", n), fileE(deepName(n-2)+"/f", "f"), linkE("h", deepName(n-2)+"/f")),
			fixedCase(fmt.Sprintf("whiteout path %d", n), fileE(deepName(n-2)+"/.wh.w", "")),
			fixedCase(fmt.Sprintf("symlink target %d", n), symlinkE("l", "/"+deepName(n-1))),
			fixedCase(fmt.Sprintf("xattr on a dir of absolute path %d", n), xattrE(dirE(deepName(n-1)+"/"), "user.x", "x")),
			fixedCase(fmt.Sprintf("xattr on a file of absolute path %d", n), xattrE(fileE(deepName(n-1), "f"), "user.x", "x")),
			fixedCase(fmt.Sprintf("opaque dir of absolute path %d", n), fileE(deepName(n-1)+"/.wh..wh..opq", "")),
			fixedCase(fmt.Sprintf("symlink resolved through absolute path %d", n), longResolve(n)...),
			fixedCase(fmt.Sprintf("path %d through a symlink", n), symlinkE("l", "."), fileE("l/"+deepName(n-2), "x")),
			fixedCase(fmt.Sprintf("path %d through a symlink", n-200), symlinkE("l", "."), fileE("l/"+deepName(n-202), "x")),
		)
	}
	cases = append(cases,
		fixedCase("xattr small values", xattrE(fileE("f", "f"), "user.v", strings.Repeat("v", 1000)), xattrE(fileE("g", "g"), "user.w", "")),
		fixedCase("xattr value 65537", xattrE(fileE("f", "f"), "user.v", strings.Repeat("v", 65537))),
		fixedCase("xattr value 65537 on a fifo", xattrE(nodeE("p", tar.TypeFifo, 0, 0), "user.v", strings.Repeat("v", 65537))),
		fixedCase("xattr value 65537 ignored", xattrE(fileE("f", "f"), "trusted.overlay.x", strings.Repeat("v", 65537))),
		fixedCase("xattr without a name", fileE("f", "f").with(func(h *tar.Header) { h.PAXRecords = map[string]string{paxXattrPrefix: "x"} })),
		fixedCase("xattr without a namespace", xattrE(fileE("f", "f"), "foo", "x")),
		fixedCase("capabilities v2", xattrE(fileE("f", "f"), capsXattr, capV2())),
		fixedCase("capabilities v3", xattrE(fileE("f", "f"), capsXattr, capV3(0)), xattrE(fileE("g", "g"), capsXattr, capV3(1000))),
		fixedCase("capabilities v3 root -1", xattrE(fileE("f", "f"), capsXattr, capV3(0xffffffff))),
		fixedCase("capabilities v3 short", xattrE(fileE("f", "f"), capsXattr, capV3(0)[:20])),
		fixedCase("capabilities v2 long", xattrE(fileE("f", "f"), capsXattr, capV2()+"\x00\x00\x00\x00")),
		fixedCase("capabilities v1", xattrE(fileE("f", "f"), capsXattr, "\x00\x00\x00\x01"+strings.Repeat("\x00", 8))),
		fixedCase("capabilities flags", xattrE(fileE("f", "f"), capsXattr, "\x02\x00\x00\x02"+capV2()[4:])),
		fixedCase("capabilities empty", xattrE(fileE("f", "f"), capsXattr, "")),
		fixedCase("capabilities bogus on a big file", xattrE(fileE("f", strings.Repeat("b", maxJobSize+1)), capsXattr, "bogus")),
		fixedCase("capabilities bogus on a dir", xattrE(dirE("d/"), capsXattr, "bogus")),
		fixedCase("capabilities bogus on a symlink", xattrE(symlinkE("l", "x"), capsXattr, "bogus")),
		fixedCase("capabilities bogus on a device", xattrE(nodeE("c", tar.TypeChar, 1, 3), capsXattr, "bogus")),
		fixedCase("capabilities bogus on a whiteout", xattrE(fileE(".wh.x", ""), capsXattr, "bogus")),
		fixedCase("user xattr on a symlink", xattrE(symlinkE("l", "x"), "user.x", "x")),
	)
	return cases
}

// TestValidateMatchesApply checks that Validate accepts and refuses what
// Apply does, with the same errors.
func TestValidateMatchesApply(t *testing.T) {
	requireRoot(t)
	var all []tarCase
	all = append(all, hostileCases()...)
	all = append(all, applyTestCases()...)
	all = append(all, ownCases()...)
	seen := map[string]bool{}
	for _, c := range all {
		if seen[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		seen[c.name] = true
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			dir, canary := caseDir(t)
			data := c.data(t, canary)
			if !compareValidate(t, dir, data) {
				t.Skip("depends on the target directory's path")
			}
			checkCanary(t, dir, canary)
			if testing.Verbose() {
				n, err := Validate(context.Background(), bytes.NewReader(data))
				t.Logf("Validate: %v", outcome{n, err})
			}
		})
	}
}

func TestValidateCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Validate(ctx, bytes.NewReader(mkTar(t, fileE("a", "a")))); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestValidateSparseBomb checks that a sparse file of huge size can be
// stopped.
func TestValidateSparseBomb(t *testing.T) {
	data := concat(gnuSparse(t, "s", 1<<50, [][2]int64{{0, 10}}, 10))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Validate(ctx, bytes.NewReader(data)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestValidateErrors checks a few errors as a caller sees them.
func TestValidateErrors(t *testing.T) {
	for _, c := range []struct {
		data   []byte
		want   string
		unsafe bool
		is     error
	}{
		{mkTar(t, fileE("../x", "x")), `archive: tar entry "../x" escapes the root`, true, nil},
		{mkTar(t, fileE("f", "f"), fileE("f/x", "x")), `archive: tar entry "f/x": lookup f: not a directory`, false, unix.ENOTDIR},
		{mkTar(t, linkE("h", "f")), `archive: tar entry "h": link h => f: no such file or directory`, false, unix.ENOENT},
		{mkTar(t, symlinkE("a", "a"), fileE("a/x", "x")), `archive: tar entry "a/x": resolve a: SecureJoin /a: too many levels of symbolic links`, false, unix.ELOOP},
		{mkTar(t, fileE("a", strings.Repeat("a", 700)))[:1000], `archive: tar entry "a": reading: unexpected EOF`, false, io.ErrUnexpectedEOF},
		{mkTar(t, fileE("a", strings.Repeat("a", maxJobSize+1)))[:1000], `archive: tar entry "a": writing a: unexpected EOF`, false, io.ErrUnexpectedEOF},
		{[]byte(strings.Repeat("x", 1024)), `archive: reading tar: archive/tar: invalid tar header`, false, tar.ErrHeader},
	} {
		err := withWorkers(defaultApplyWorkers, func() error {
			_, err := Validate(context.Background(), bytes.NewReader(c.data))
			return err
		})
		if err == nil || err.Error() != c.want || errors.Is(err, ErrUnsafePath) != c.unsafe || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("err = %v, want %s (unsafe %v, is %v)", err, c.want, c.unsafe, c.is)
		}
	}
}

// fuzzNames are the name components fuzz entries are made of.
var fuzzNames = []string{
	"a", "b", "c", "l", "d", "..", ".", "",
	".wh.a", ".wh.b", ".wh.l", ".wh..wh..opq", ".wh..wh.plnk", ".wh.", ".wh..", ".wh...",
	strings.Repeat("n", 255), strings.Repeat("n", 256), deepName(3839), deepName(3840),
}

// fuzzTar turns fuzz input into a tar of a few entries, with absolute
// names and link targets under canary c (so that a broken Apply could not
// write anywhere else), and maybe truncated or followed by garbage.
func fuzzTar(data []byte, c string) []byte {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	name := func() string {
		k := next()
		var parts []string
		for i := 0; i <= k%3; i++ {
			parts = append(parts, fuzzNames[next()%len(fuzzNames)])
		}
		p := strings.Join(parts, "/")
		switch k >> 4 {
		case 1:
			p = c + "/" + p
		case 2:
			p = "/../" + c + "/" + p
		case 3:
			p += "/"
		}
		return p
	}
	types := []byte{tar.TypeReg, tar.TypeReg, tar.TypeDir, tar.TypeDir, tar.TypeSymlink, tar.TypeSymlink, tar.TypeLink, tar.TypeLink,
		tar.TypeChar, tar.TypeFifo, tar.TypeBlock, tar.TypeXGlobalHeader, tar.TypeCont, tar.TypeReg, tar.TypeDir, tar.TypeSymlink}
	sizes := []int{0, 1, 10, 0, 700, 0, maxJobSize + 1, 3}
	xattrs := [][2]string{
		{"user.x", "v"}, {capsXattr, "bogus"}, {"user." + strings.Repeat("x", 251), "v"},
		{"user.big", strings.Repeat("v", 65537)}, {capsXattr, capV2()}, {"trusted.overlay.x", "x"},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for n := 1 + next()%10; n > 0; n-- {
		t := next()
		h := &tar.Header{Typeflag: types[t%len(types)], Name: name(), Mode: 0o755, ModTime: testTime}
		switch h.Typeflag {
		case tar.TypeSymlink, tar.TypeLink:
			h.Linkname = name()
		case tar.TypeReg:
			h.Size = int64(sizes[(t>>4)%len(sizes)])
		case tar.TypeXGlobalHeader:
			*h = tar.Header{Typeflag: h.Typeflag, Name: h.Name, PAXRecords: map[string]string{"comment": "x"}}
		}
		if x := next(); x < len(xattrs) && h.Typeflag != tar.TypeXGlobalHeader {
			h.PAXRecords = map[string]string{paxXattrPrefix + xattrs[x][0]: xattrs[x][1]}
		}
		if tw.WriteHeader(h) != nil {
			continue // e.g. a file name ending in "/"
		}
		tw.Write(bytes.Repeat([]byte{'x'}, int(h.Size)))
	}
	tw.Close()
	b := buf.Bytes()
	switch m := next(); m % 8 {
	case 5:
		b = b[:len(b)*next()/256]
	case 6:
		b = append(b, "garbage"...)
	case 7:
		b = append(b[:len(b)-1024], bytes.Repeat([]byte("garbage!"), 64)...)
	}
	return b
}

// FuzzValidateMatchesApply checks that Validate accepts and refuses what
// Apply does, with the same errors, on tars made of a few entries with
// names from a small alphabet.
func FuzzValidateMatchesApply(f *testing.F) {
	requireRoot(f)
	for _, seed := range []string{
		"\x02\x00\x00\x00\x00" + "\x0e\x01\x02\x00",
		"\x03\x04\x00\x03\x05\x00\x00\x01\x00\x03\x00\x00",
		"\x04\x04\x00\x03\x04\x03\x00\x06\x01\x00\x00\x00\x20\x00\x02\x00",
		"\x02\x06\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x03\x05",
		"\x05\x00\x01\x10\x11\x12\x06\x00\x11\x00\x00\x02\x00\x00\x09\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		dir, canary := caseDir(t)
		data := fuzzTar(in, canary)
		if compareValidate(t, dir, data) {
			checkCanary(t, dir, canary)
		}
	})
}

// BenchmarkValidate validates a layer of 17,000 files (about 300 MB), read
// from a stream that cannot seek, like a decompressor's. "read" only reads
// the tar, headers and contents (tar.Reader), the floor for Validate.
func BenchmarkValidate(b *testing.B) {
	data := benchTar(b, 17000, 0)
	b.Logf("tar %d MB, %d files", len(data)>>20, 17000)
	stream := func() io.Reader { return struct{ io.Reader }{bytes.NewReader(data)} }
	b.Run("read", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			tr := tar.NewReader(stream())
			for {
				if _, err := tr.Next(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, tr); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("validate", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := Validate(context.Background(), stream()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestDeepName(t *testing.T) {
	for n := 1; n < 5000; n++ {
		p := deepName(n)
		if len(p) != n || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
			t.Fatalf("deepName(%d) = %d bytes", n, len(p))
		}
		for _, c := range strings.Split(p, "/") {
			if len(c) > 255 {
				t.Fatalf("deepName(%d) has a %d-byte name", n, len(c))
			}
		}
	}
}
