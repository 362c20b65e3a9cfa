package volumes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileRoot builds a container root whose image is full of symlinks aimed
// at the host, next to a fake "host" directory that must never be touched.
func hostileRoot(t *testing.T) (rootfs, host string) {
	t.Helper()
	base := t.TempDir()
	rootfs = filepath.Join(base, "rootfs")
	host = filepath.Join(base, "host")
	must(t, os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755))
	must(t, os.MkdirAll(filepath.Join(host, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(rootfs, "etc", "hosts"), []byte("image"), 0o644))
	must(t, os.MkdirAll(filepath.Join(rootfs, "real", "dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(rootfs, "afile"), nil, 0o644))

	links := map[string]string{
		"data":          "/etc",                       // absolute: must land in rootfs/etc
		"up":            "../../..",                   // relative escape: clamps at rootfs
		"upetc":         "../../../../../../etc",      // relative escape to etc
		"hostabs":       host,                         // absolute path of the host dir
		"hostrel":       "../host",                    // relative path to the host dir
		"chain1":        "chain2",                     // chain: chain1 -> chain2 -> chain3 -> /../host
		"chain2":        "/chain3",                    //
		"chain3":        "/../../host/etc",            //
		"dangling":      "/nonexistent/target",        // dangling: created inside rootfs
		"danglinghost":  host + "/newdir",             // dangling toward the host
		"loop1":         "loop2",                      // loop: an error, never an escape
		"loop2":         "loop1",                      //
		"real/dir/back": "../../../../host",           //
		"etc/resolv":    "../run/systemd/stub-resolv", // Debian's resolv.conf pattern, dangling
	}
	for name, target := range links {
		must(t, os.Symlink(target, filepath.Join(rootfs, name)))
	}
	return rootfs, host
}

func inside(t *testing.T, rootfs, p string) bool {
	t.Helper()
	root, err := filepath.EvalSymlinks(rootfs)
	must(t, err)
	return p == root || strings.HasPrefix(p, root+"/")
}

func hostUntouched(t *testing.T, host string) {
	t.Helper()
	entries, err := os.ReadDir(host)
	must(t, err)
	if len(entries) != 1 || entries[0].Name() != "etc" {
		t.Errorf("host dir changed: %v", entries)
	}
	entries, _ = os.ReadDir(filepath.Join(host, "etc"))
	if len(entries) != 0 {
		t.Errorf("host etc changed: %v", entries)
	}
}

func TestResolveTargetHostile(t *testing.T) {
	rootfs, host := hostileRoot(t)
	root, _ := filepath.EvalSymlinks(rootfs)

	cases := []struct {
		dst  string
		file bool
		want string // relative to rootfs; "" = only check it is inside
	}{
		{"/data", false, "etc"},
		{"/data/sub", false, "etc/sub"},
		{"/up", false, "."},
		{"/up/x", false, "x"},
		{"/upetc/new", false, "etc/new"},
		{"/hostabs", false, strings.TrimPrefix(host, "/")},
		{"/hostabs/etc/x", false, strings.TrimPrefix(host, "/") + "/etc/x"},
		{"/hostrel/y", false, "host/y"},
		{"/chain1", false, "host/etc"},
		{"/chain1/z", false, "host/etc/z"},
		{"/dangling", false, "nonexistent/target"},
		{"/danglinghost", false, strings.TrimPrefix(host, "/") + "/newdir"},
		{"/real/dir/back/w", false, "host/w"},
		{"/../../../etc/q", false, "etc/q"},
		{"/etc/hosts", true, "etc/hosts"},
		{"/etc/resolv", true, "run/systemd/stub-resolv"},
		{"/data/newfile", true, "etc/newfile"},
		{"/hostabs/f", true, strings.TrimPrefix(host, "/") + "/f"},
		{"/up/../../afile", true, "afile"},
	}
	for _, c := range cases {
		got, err := ResolveTarget(rootfs, c.dst, c.file)
		if err != nil {
			t.Errorf("%s: %v", c.dst, err)
			continue
		}
		if !inside(t, rootfs, got) {
			t.Errorf("%s: resolved to %s, outside %s", c.dst, got, rootfs)
			continue
		}
		if want := filepath.Join(root, c.want); got != want {
			t.Errorf("%s: resolved to %s, want %s", c.dst, got, want)
		}
		fi, err := os.Lstat(got)
		if err != nil {
			t.Errorf("%s: target not created: %v", c.dst, err)
			continue
		}
		if fi.IsDir() == c.file {
			t.Errorf("%s: created with mode %v, file=%v", c.dst, fi.Mode(), c.file)
		}
	}
	hostUntouched(t, host)

	// Loops fail cleanly; so do type mismatches.
	for _, c := range []struct {
		dst  string
		file bool
	}{{"/loop1", false}, {"/loop1/x", true}, {"/afile", false}, {"/real/dir", true}, {"/afile/sub", false}} {
		if p, err := ResolveTarget(rootfs, c.dst, c.file); err == nil {
			t.Errorf("%s (file=%v): resolved to %s, want an error", c.dst, c.file, p)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error %q", c.dst, err)
		}
	}
	hostUntouched(t, host)
}

func TestResolveTargetPlain(t *testing.T) {
	rootfs := t.TempDir()
	p, err := ResolveTarget(rootfs, "/var/lib/registry", false)
	must(t, err)
	root, _ := filepath.EvalSymlinks(rootfs)
	if p != filepath.Join(root, "var/lib/registry") {
		t.Fatalf("got %s", p)
	}
	// Existing: same answer, nothing recreated.
	must(t, os.WriteFile(filepath.Join(p, "keep"), nil, 0o644))
	p2, err := ResolveTarget(rootfs, "var/lib/registry/", false)
	must(t, err)
	if p2 != p {
		t.Fatalf("second resolve %s", p2)
	}
	if _, err := os.Stat(filepath.Join(p, "keep")); err != nil {
		t.Fatal(err)
	}
	// The rootfs given through a symlink works too.
	link := filepath.Join(t.TempDir(), "link")
	must(t, os.Symlink(rootfs, link))
	p3, err := ResolveTarget(link, "/etc/hostname", true)
	must(t, err)
	if p3 != filepath.Join(root, "etc/hostname") {
		t.Fatalf("via link: %s", p3)
	}
	if fi, err := os.Stat(p3); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("file target: %v", err)
	}
	// The root itself.
	if p, err := ResolveTarget(rootfs, "/", false); err != nil || p != root {
		t.Fatalf("root: %s %v", p, err)
	}
}
