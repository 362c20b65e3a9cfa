package archive

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestApplyHostile feeds tars that try to reach outside the target directory.
// Each case runs in its own temp dir P holding the target P/root and a canary
// P/canary (a file "passwd" and a dir "e"); the canary and P must come out
// untouched. Absolute symlinks point at the canary rather than at /etc, so
// that a broken build cannot damage the machine running the tests; the code
// path is the same.
func TestApplyHostile(t *testing.T) {
	requireRoot(t)
	type tc struct {
		name   string
		ents   func(canary string) []ent
		unsafe bool                                    // want an error matching ErrUnsafePath
		anyErr bool                                    // want some error
		check  func(t *testing.T, root, canary string) // extra checks
	}
	// inRoot is where an absolute path resolves to inside root.
	inRoot := func(root, abs string) string { return filepath.Join(root, abs) }
	readIs := func(t *testing.T, p, want string) {
		t.Helper()
		if b, err := os.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	cases := []tc{
		{name: "dotdot", ents: func(c string) []ent { return []ent{fileE("../canary/passwd", "pwned")} }, unsafe: true},
		{name: "dotdot x", ents: func(c string) []ent { return []ent{fileE("../x", "pwned")} }, unsafe: true},
		{name: "dotdot only", ents: func(c string) []ent { return []ent{dirE("..")} }, unsafe: true},
		{name: "absolute", ents: func(c string) []ent { return []ent{fileE(c+"/passwd", "pwned")} }, unsafe: true},
		{name: "absolute root", ents: func(c string) []ent { return []ent{dirE("/")} }, unsafe: true},
		{name: "climb", ents: func(c string) []ent { return []ent{fileE("a/../../canary/passwd", "pwned")} }, unsafe: true},
		{name: "climb deeper", ents: func(c string) []ent { return []ent{dirE("a/"), fileE("a/b/../../../x", "pwned")} }, unsafe: true},
		{name: "hardlink dotdot", ents: func(c string) []ent { return []ent{linkE("x", "../../etc/passwd")} }, unsafe: true},
		{name: "hardlink dotdot canary", ents: func(c string) []ent { return []ent{linkE("x", "../canary/passwd")} }, unsafe: true},
		{name: "hardlink absolute", ents: func(c string) []ent { return []ent{linkE("x", "/etc/passwd")} }, unsafe: true},
		{name: "hardlink absolute canary", ents: func(c string) []ent { return []ent{linkE("x", c+"/passwd")} }, unsafe: true},
		{name: "hardlink climb", ents: func(c string) []ent { return []ent{dirE("a/"), linkE("a/x", "a/../../canary/passwd")} }, unsafe: true},
		{name: "symlink dotdot", ents: func(c string) []ent { return []ent{symlinkE("l", "../../.."), fileE("l/x", "pwned")} }, unsafe: true},
		{name: "symlink dotdot nested", ents: func(c string) []ent {
			return []ent{dirE("a/"), symlinkE("a/l", "../.."), fileE("a/l/canary/passwd", "pwned")}
		}, unsafe: true},
		{name: "symlink dotdot to canary", ents: func(c string) []ent { return []ent{symlinkE("l", "../canary")} }, unsafe: true},
		{name: "whiteout dotdot", ents: func(c string) []ent { return []ent{fileE(".wh...", "")} }, unsafe: true},
		{name: "whiteout dot", ents: func(c string) []ent { return []ent{dirE("a/"), fileE("a/.wh..", "")} }, unsafe: true},
		{name: "whiteout empty", ents: func(c string) []ent { return []ent{fileE(".wh.", "")} }, unsafe: true},
		{
			name: "absolute symlink then write through it",
			ents: func(c string) []ent { return []ent{symlinkE("evil", c), fileE("evil/passwd", "pwned")} },
			check: func(t *testing.T, root, c string) {
				readIs(t, inRoot(root, c+"/passwd"), "pwned")
				if target, _ := os.Readlink(filepath.Join(root, "evil")); target != c {
					t.Errorf("evil -> %q", target)
				}
			},
		},
		{
			name: "absolute symlink to a file, then write through its parent",
			ents: func(c string) []ent {
				return []ent{symlinkE("f", c+"/passwd"), fileE("f/x", "pwned")}
			},
			// The link resolves inside root, where <canary>/passwd does not
			// exist: it is created as an implied directory.
			check: func(t *testing.T, root, c string) { readIs(t, inRoot(root, c+"/passwd/x"), "pwned") },
		},
		{
			name: "symlink to root then write",
			ents: func(c string) []ent { return []ent{dirE("a/"), symlinkE("a/l", ".."), fileE("a/l/x", "ok")} },
			check: func(t *testing.T, root, c string) {
				readIs(t, filepath.Join(root, "x"), "ok")
			},
		},
		{
			name: "symlink chain through dot",
			// b -> a/.. with a -> "." lexically stays in the root, but the
			// kernel would resolve b to the parent of root.
			ents: func(c string) []ent {
				return []ent{symlinkE("a", "."), symlinkE("b", "a/.."), fileE("b/canary/passwd", "pwned")}
			},
			check: func(t *testing.T, root, c string) { readIs(t, filepath.Join(root, "canary/passwd"), "pwned") },
		},
		{
			name: "symlink chain absolute",
			ents: func(c string) []ent {
				return []ent{symlinkE("x1", "x2"), symlinkE("x2", c), fileE("x1/passwd", "pwned")}
			},
			check: func(t *testing.T, root, c string) { readIs(t, inRoot(root, c+"/passwd"), "pwned") },
		},
		{
			name: "absolute symlink with dotdots",
			ents: func(c string) []ent {
				return []ent{symlinkE("d", "/../../../../.."+c), fileE("d/passwd", "pwned")}
			},
			check: func(t *testing.T, root, c string) { readIs(t, inRoot(root, c+"/passwd"), "pwned") },
		},
		{
			name: "symlink in deeper parent",
			ents: func(c string) []ent {
				return []ent{dirE("a/"), symlinkE("a/b", c), dirE("a/b/e/"), fileE("a/b/e/f", "pwned")}
			},
			check: func(t *testing.T, root, c string) { readIs(t, inRoot(root, c+"/e/f"), "pwned") },
		},
		{
			name:   "symlink loop",
			ents:   func(c string) []ent { return []ent{symlinkE("a", "b"), symlinkE("b", "a"), fileE("a/x", "x")} },
			anyErr: true,
		},
		{
			name:   "hardlink through a symlinked parent",
			ents:   func(c string) []ent { return []ent{symlinkE("s", c), linkE("h", "s/passwd")} },
			anyErr: true, // resolves to root/<canary>/passwd, which does not exist
		},
		{
			name: "hardlink to a symlink, then overwrite the link",
			ents: func(c string) []ent {
				return []ent{symlinkE("s", c+"/passwd"), linkE("h", "s"), fileE("h", "pwned")}
			},
			check: func(t *testing.T, root, c string) {
				readIs(t, filepath.Join(root, "h"), "pwned")
				if target, _ := os.Readlink(filepath.Join(root, "s")); target != c+"/passwd" {
					t.Errorf("s -> %q", target)
				}
			},
		},
		{
			name: "regular file over a symlink",
			ents: func(c string) []ent { return []ent{symlinkE("f", c+"/passwd"), fileE("f", "pwned")} },
			check: func(t *testing.T, root, c string) {
				readIs(t, filepath.Join(root, "f"), "pwned")
			},
		},
		{
			name: "device over a symlink",
			ents: func(c string) []ent {
				return []ent{symlinkE("f", c+"/passwd"), nodeE("f", tar.TypeFifo, 0, 0)}
			},
		},
		{
			name: "whiteout through a symlink",
			ents: func(c string) []ent { return []ent{symlinkE("s", c), fileE("s/.wh.passwd", "")} },
			check: func(t *testing.T, root, c string) {
				if st := lstat(t, inRoot(root, c+"/passwd")); st.Mode != unix.S_IFCHR {
					t.Errorf("whiteout not created inside root")
				}
			},
		},
		{
			name: "opaque through a symlink",
			ents: func(c string) []ent { return []ent{symlinkE("s", c), fileE("s/.wh..wh..opq", "")} },
		},
		{
			name: "whiteout of a symlink to outside",
			ents: func(c string) []ent { return []ent{symlinkE("s", c), fileE(".wh.s", "")} },
		},
		{
			name: "dir over a symlink",
			ents: func(c string) []ent {
				return []ent{symlinkE("s", c), dirE("s/").with(func(h *tar.Header) { h.Mode = 0o700; h.Uid = 99 })}
			},
			check: func(t *testing.T, root, c string) {
				if st := lstat(t, filepath.Join(root, "s")); st.Mode != unix.S_IFDIR|0o700 {
					t.Errorf("s: %o", st.Mode)
				}
			},
		},
		{
			name: "dir replaced by a symlink before its times are set",
			ents: func(c string) []ent {
				return []ent{
					dirE("d/"), dirE("d/e/").with(func(h *tar.Header) { h.ModTime = time.Unix(1e9, 0) }),
					fileE("d/e/x", "x"),
					symlinkE("d", c),
				}
			},
		},
		{
			name: "dir replaced by a symlink then written through",
			ents: func(c string) []ent {
				return []ent{dirE("a/"), fileE("a/x", "x"), symlinkE("a", c), fileE("a/passwd", "pwned"), nodeE("a/e/n", tar.TypeChar, 1, 3)}
			},
			check: func(t *testing.T, root, c string) { readIs(t, inRoot(root, c+"/passwd"), "pwned") },
		},
		{
			name: "file replaced by a symlink then hardlinked through",
			ents: func(c string) []ent {
				return []ent{fileE("passwd", "inner"), dirE("d/"), symlinkE("d", "/"), linkE("h", "d/passwd")}
			},
			check: func(t *testing.T, root, c string) { readIs(t, filepath.Join(root, "h"), "inner") },
		},
		{
			name:   "parent is a file",
			ents:   func(c string) []ent { return []ent{fileE("f", "f"), fileE("f/x", "x")} },
			anyErr: true,
		},
		{
			name:   "hardlink to a directory",
			ents:   func(c string) []ent { return []ent{dirE("d/"), linkE("h", "d")} },
			anyErr: true,
		},
		{
			name: "relative symlink inside is fine",
			ents: func(c string) []ent {
				return []ent{dirE("a/b/"), symlinkE("a/b/l", "../x"), fileE("a/x", "x"), fileE("a/b/l2/../y", "y")}
			},
			check: func(t *testing.T, root, c string) {
				readIs(t, filepath.Join(root, "a/b/l"), "x")
				readIs(t, filepath.Join(root, "a/b/y"), "y")
			},
		},
	}
	forEachMode(t, func(t *testing.T) {
		for _, c := range cases {
			t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
				p := t.TempDir()
				root, canary := filepath.Join(p, "root"), filepath.Join(p, "canary")
				for _, d := range []string{root, canary, filepath.Join(canary, "e")} {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(filepath.Join(canary, "passwd"), []byte("orig"), 0o644); err != nil {
					t.Fatal(err)
				}
				old := time.Unix(5e8, 0)
				for _, q := range []string{filepath.Join(canary, "e"), filepath.Join(canary, "passwd"), canary} {
					if err := os.Chtimes(q, old, old); err != nil {
						t.Fatal(err)
					}
				}
				before := snapshot(t, canary, true)

				err := apply(t, root, mkTar(t, c.ents(canary)...))
				switch {
				case c.unsafe:
					if !errors.Is(err, ErrUnsafePath) {
						t.Errorf("err = %v, want ErrUnsafePath", err)
					}
				case c.anyErr:
					if err == nil {
						t.Errorf("no error")
					}
					if errors.Is(err, ErrUnsafePath) {
						t.Logf("(unsafe path: %v)", err)
					}
				case err != nil:
					t.Errorf("err = %v", err)
				}
				if err != nil {
					t.Logf("error: %v", err)
				}
				if d := diffSnapshots(before, snapshot(t, canary, true)); d != "" {
					t.Errorf("canary changed:\n%s", d)
				}
				names, _ := os.ReadDir(p)
				if len(names) != 2 {
					t.Errorf("%s holds %d entries, want root and canary", p, len(names))
				}
				if c.check != nil && !t.Failed() {
					c.check(t, root, canary)
				}
			})
		}
	})
}
