package e2e

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBindMounts(t *testing.T) {
	d := busyboxDaemon(t)
	host := filepath.Join(d.Root, "hostdata", "registry") // does not exist yet: created as a dir
	d.MustCtr(t, "run", "--rm", "-v", host+":/var/lib/registry", "busybox", "sh", "-c", "echo kept > /var/lib/registry/f")
	if b, err := os.ReadFile(filepath.Join(host, "f")); err != nil || string(b) != "kept\n" {
		t.Fatalf("bind data on host: %q %v", b, err)
	}
	// Survives rm and a new run.
	if out := d.MustCtr(t, "run", "--rm", "-v", host+":/var/lib/registry", "busybox", "cat", "/var/lib/registry/f"); out != "kept" {
		t.Fatalf("re-run sees %q", out)
	}
	// ro is enforced inside; the container runs on.
	r := d.Ctr("run", "--rm", "-v", host+":/data:ro", "busybox", "sh", "-c", "echo x > /data/g; echo after-$?")
	if r.Code != 0 || !strings.Contains(r.Stdout, "after-1") || !strings.Contains(r.Stderr, "Read-only") {
		t.Fatalf("ro bind: %s", r)
	}
	// A file bind and --mount readonly.
	hosts := filepath.Join(d.Root, "hostsfile")
	os.WriteFile(hosts, []byte("1.2.3.4 special\n"), 0o644)
	if out := d.MustCtr(t, "run", "--rm", "-v", hosts+":/etc/hosts.host:ro", "busybox", "cat", "/etc/hosts.host"); out != "1.2.3.4 special" {
		t.Fatalf("file bind: %q", out)
	}
	if out := d.MustCtr(t, "run", "--rm", "--mount", "type=bind,src="+host+",dst=/srv,readonly", "busybox", "sh", "-c", "ls /srv; touch /srv/x 2>/dev/null || echo ro"); out != "f\nro" {
		t.Fatalf("--mount bind ro: %q", out)
	}
	if out := d.MustCtr(t, "run", "--rm", "--tmpfs", "/scratch", "busybox", "sh", "-c", "grep ' /scratch ' /proc/mounts | cut -d' ' -f3"); out != "tmpfs" {
		t.Fatalf("--tmpfs: %q", out)
	}
	d.MustCtr(t, "run", "-d", "--name", "mnt", "-v", host+":/data", "busybox", "sleep", "100")
	js := d.MustCtr(t, "inspect", "-f", "{{json .Mounts}}", "mnt")
	if !strings.Contains(js, `"Source":"`+host+`"`) || !strings.Contains(js, `"Destination":"/data"`) || !strings.Contains(js, `"Type":"bind"`) {
		t.Fatalf("inspect Mounts: %s", js)
	}
	d.MustCtr(t, "rm", "-f", "mnt")
}

func TestVolumeBadInput(t *testing.T) {
	d := busyboxDaemon(t)
	before := d.MustCtr(t, "ps", "-aq")
	for _, args := range [][]string{
		{"-v", "relative/path:/x"},
		{"-v", ":/x"},
		{"-v", "/a:relative"},
		{"-v", "/a:/b:rx"},
		{"-v", "/a:/d", "-v", "/b:/d"},
		{"--mount", "type=bind,src=/tmp"},
		{"--mount", "type=bogus,dst=/x"},
	} {
		r := d.Ctr(append(append([]string{"run", "--rm"}, args...), "busybox", "true")...)
		if r.Code != 125 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("%v: want one line and exit 125, got %s", args, r)
		}
	}
	if after := d.MustCtr(t, "ps", "-aq"); after != before {
		t.Errorf("bad input left containers: %q", after)
	}
	if vols := d.MustCtr(t, "volume", "ls", "-q"); vols != "" {
		t.Errorf("bad input left volumes: %q", vols)
	}
}

func TestNamedAndAnonymousVolumes(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "volume", "create", "data")
	d.MustCtr(t, "run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo x > /data/f")
	if out := d.MustCtr(t, "run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/f"); out != "x" {
		t.Fatalf("named volume content: %q", out)
	}
	// Created on first use; filled from the image (copy-up) keeping owners and modes.
	out := d.MustCtr(t, "run", "--rm", "-v", "etcvol:/etc", "busybox", "sh", "-c", "ls /etc; stat -c '%a %u' /etc/passwd")
	if !strings.Contains(out, "passwd") || !strings.Contains(out, "group") || !strings.HasSuffix(out, "\n644 0") {
		t.Fatalf("copy-up must keep content, mode and owner: %q", out)
	}
	insp := d.MustCtr(t, "volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Mountpoint}}", "etcvol")
	if !strings.HasPrefix(insp, "etcvol local "+d.DataRoot) {
		t.Fatalf("volume inspect: %q", insp)
	}
	ls := d.MustCtr(t, "volume", "ls")
	if !strings.Contains(ls, "DRIVER") || !strings.Contains(ls, "VOLUME NAME") || !strings.Contains(ls, "etcvol") {
		t.Fatalf("volume ls: %q", ls)
	}
	// In use: refused, naming the container.
	d.MustCtr(t, "run", "-d", "--name", "user1", "-v", "data:/data", "busybox", "sleep", "100")
	r := d.Ctr("volume", "rm", "data")
	if r.Code == 0 || !strings.Contains(r.Stderr, "user1") {
		t.Fatalf("rm of a volume in use: %s", r)
	}
	d.MustCtr(t, "rm", "-f", "user1")
	// Named volumes outlive containers.
	if out := d.MustCtr(t, "run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/f"); out != "x" {
		t.Fatalf("named volume after rm: %q", out)
	}
	// Anonymous volumes: -v DST, and image VOLUMEs; rm -v removes them.
	d.MustCtr(t, "run", "--name", "anon", "-v", "/scratch", "busybox", "sh", "-c", "echo a > /scratch/a")
	js := d.MustCtr(t, "inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anon")
	if len(js) != 64 {
		t.Fatalf("anonymous volume name %q", js)
	}
	if !strings.Contains(d.MustCtr(t, "volume", "ls", "-q"), js) {
		t.Fatal("anonymous volume not listed")
	}
	d.MustCtr(t, "rm", "-v", "anon")
	if strings.Contains(d.MustCtr(t, "volume", "ls", "-q"), js) {
		t.Fatal("rm -v left the anonymous volume")
	}
	d.MustCtr(t, "commit", "-c", "VOLUME /vol", d.MustCtr(t, "create", "busybox", "true"), "withvol:latest")
	d.MustCtr(t, "run", "--name", "iv", "withvol", "sh", "-c", "grep -q ' /vol ' /proc/mounts && echo mounted")
	if !strings.Contains(d.MustCtr(t, "logs", "iv"), "mounted") {
		t.Fatal("image VOLUME not mounted")
	}
	d.MustCtr(t, "rm", "-v", "iv")
	d.MustCtr(t, "volume", "rm", "data", "etcvol")
	pr := d.MustCtr(t, "volume", "prune", "-f")
	if !strings.Contains(pr, "Total reclaimed space") {
		t.Fatalf("prune: %q", pr)
	}
}

// TestHostileImageSymlinks: an image whose mount targets are symlinks to
// host paths must get its mounts inside its own root, never on the host.
func TestHostileImageSymlinks(t *testing.T) {
	d := busyboxDaemon(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "evil-abs", Typeflag: tar.TypeSymlink, Linkname: "/etc", Mode: 0o777},
		{Name: "evil-rel", Typeflag: tar.TypeSymlink, Linkname: "evil-abs", Mode: 0o777},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	layerTar := filepath.Join(d.Root, "evil.tar")
	os.WriteFile(layerTar, buf.Bytes(), 0o644)
	// A busybox image with the hostile links on top (commit of a container
	// that extracted them).
	id := d.MustCtr(t, "create", "-v", d.Root+":/in:ro", "busybox", "sh", "-c", "cd / && tar xf /in/evil.tar")
	d.MustCtr(t, "start", "-a", id)
	d.MustCtr(t, "commit", id, "evil:latest")

	src := filepath.Join(d.Root, "payload")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "marker-"+randHex(4)), []byte("x"), 0o644)
	canary := "ctrd-canary-" + randHex(6)
	d.Ctr("run", "--rm", "-v", src+":/evil-abs/"+canary, "evil", "true")
	d.Ctr("run", "--rm", "-v", src+":/evil-rel/"+canary, "evil", "true")
	d.Ctr("run", "--rm", "-v", src+":/evil-abs", "evil", "true")
	for _, p := range []string{"/etc/" + canary} {
		if _, err := os.Lstat(p); err == nil {
			os.RemoveAll(p)
			t.Fatalf("a mount target escaped onto the host: %s", p)
		}
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Fatalf("host /etc damaged: %v", err)
	}
	// Inside, the mount resolved within the container's root.
	out := d.MustCtr(t, "run", "--rm", "-v", src+":/evil-abs/"+canary, "evil", "sh", "-c", "ls /etc/"+canary)
	if !strings.Contains(out, "marker-") {
		t.Fatalf("mount not at the in-root target: %q", out)
	}
}
