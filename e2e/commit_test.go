package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCommitChanges(t *testing.T) {
	d := busyboxDaemon(t)
	// Base layer with a directory to replace and files to change/delete.
	d.MustCtr(t, "run", "--name", "base", "busybox", "sh", "-c",
		"mkdir -p /opq/sub /keep && echo old > /opq/sub/a && echo old > /opq/b && echo k > /keep/k && echo gone > /keep/gone && echo v1 > /etc/motd")
	d.MustCtr(t, "commit", "-m", "base layer", "-a", "tester <t@example.test>", "base", "step1:latest")
	// Second layer: add, change, delete, and an opaque-replaced dir.
	d.MustCtr(t, "run", "--name", "second", "step1", "sh", "-c",
		"echo new > /added && echo v2 > /etc/motd && rm /keep/gone && rm -rf /opq && mkdir /opq && echo fresh > /opq/c && ln -s /added /link && ln /added /hard && mknod /dev-null-copy c 1 3")
	diff := d.MustCtr(t, "diff", "second")
	for _, want := range []string{"A /added", "C /etc/motd", "D /keep/gone", "C /opq", "A /opq/c", "D /opq/sub", "D /opq/b"} {
		if !strings.Contains(diff+"\n", want+"\n") {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	id := d.MustCtr(t, "commit", "-m", "second layer", "-c", `CMD ["cat","/added"]`, "-c", "EXPOSE 8080", "-c", "ENV STAGE=two", "second", "step2:v1")
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("commit printed %q", id)
	}
	out := d.MustCtr(t, "run", "--rm", "step2:v1", "sh", "-c",
		"cat /added /etc/motd /opq/c; ls /opq; ls /keep; test -e /opq/sub && echo sub-leaked; readlink /link; stat -c '%h %F' /hard /dev-null-copy; echo $STAGE")
	want := "new\nv2\nfresh\nc\nk\n/added\n2 regular file\n1 character special file\ntwo"
	if out != want {
		t.Fatalf("committed image content:\n%s\nwant:\n%s", out, want)
	}
	if got := d.MustCtr(t, "run", "--rm", "step2:v1"); got != "new" {
		t.Fatalf("CMD change: %q", got)
	}
	// The commit inherits the container's command, as Docker's does.
	if got := d.MustCtr(t, "inspect", "-f", "{{.Comment}}|{{.Author}}|{{json .Config.ExposedPorts}}|{{index .Config.Cmd 0}}", "step1"); got != "base layer|tester <t@example.test>|null|sh" {
		t.Errorf("inspect step1: %q", got)
	}
	if got := d.MustCtr(t, "inspect", "-f", "{{.Comment}} {{json .Config.ExposedPorts}} {{len .RootFS.Layers}}", "step2:v1"); got != `second layer {"8080/tcp":{}} 3` {
		t.Errorf("inspect step2: %q", got)
	}
	hist := d.MustCtr(t, "history", "--no-trunc", "step2:v1")
	if !strings.Contains(hist, "second layer") || !strings.Contains(hist, "base layer") || !strings.Contains(hist, "echo new > /added") {
		t.Errorf("history:\n%s", hist)
	}
	if n := len(strings.Split(hist, "\n")); n != 4 {
		t.Errorf("history has %d lines, want header + 3 layers:\n%s", n, hist)
	}
	// The parent image is unchanged.
	if out := d.MustCtr(t, "run", "--rm", "step1", "sh", "-c", "cat /keep/gone; test -e /added || echo no-added"); out != "gone\nno-added" {
		t.Errorf("parent image changed: %q", out)
	}
	// Three deep: commit of a commit of a commit.
	d.MustCtr(t, "run", "--name", "third", "step2:v1", "sh", "-c", "echo three > /three && rm /added")
	d.MustCtr(t, "commit", "third", "step3")
	if out := d.MustCtr(t, "run", "--rm", "step3", "sh", "-c", "cat /three /etc/motd /opq/c; test -e /added || echo added-deleted"); out != "three\nv2\nfresh\nadded-deleted" {
		t.Errorf("three layers deep: %q", out)
	}
}

func TestCommitSizeAndRunning(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "run", "--name", "big", "busybox", "sh", "-c", "dd if=/dev/zero of=/blob bs=1M count=5 2>/dev/null")
	d.MustCtr(t, "commit", "big", "withblob")
	d.MustCtr(t, "run", "--name", "del", "withblob", "rm", "/blob")
	d.MustCtr(t, "commit", "del", "blobdeleted")
	size := func(img string) int {
		return atoi(t, d.MustCtr(t, "inspect", "-f", "{{.Size}}", img))
	}
	if size("blobdeleted") < size("withblob") || size("withblob") < 5<<20 {
		t.Errorf("a file deleted in a later layer must still count: %d vs %d", size("blobdeleted"), size("withblob"))
	}
	if out := d.MustCtr(t, "run", "--rm", "blobdeleted", "sh", "-c", "test -e /blob && echo visible || echo invisible"); out != "invisible" {
		t.Errorf("deleted file %s", out)
	}
	// A running container is paused for the commit by default and goes on.
	d.MustCtr(t, "run", "-d", "--name", "live", "busybox", "sh", "-c", "echo live > /live; sleep 1000")
	waitFor(t, 5*time.Second, func() bool { return d.Ctr("exec", "live", "test", "-f", "/live").Code == 0 })
	d.MustCtr(t, "commit", "live", "fromlive")
	d.MustCtr(t, "commit", "-p=false", "live", "fromlive2")
	if st := d.MustCtr(t, "inspect", "-f", "{{.State.Status}}", "live"); st != "running" {
		t.Errorf("after commit: %s", st)
	}
	if out := d.MustCtr(t, "run", "--rm", "fromlive2", "cat", "/live"); out != "live" {
		t.Errorf("commit of a running container: %q", out)
	}
	// Inherits the container's effective config.
	d.MustCtr(t, "run", "--name", "cfg", "-e", "A=1", "-w", "/tmp", "-u", "app", "--entrypoint", "/bin/echo", "busybox", "hi")
	d.MustCtr(t, "commit", "cfg", "cfgimg")
	if got := d.MustCtr(t, "inspect", "-f", "{{.Config.Entrypoint}} {{.Config.Cmd}} {{.Config.WorkingDir}} {{.Config.User}}", "cfgimg"); got != "[/bin/echo] [hi] /tmp app" {
		t.Errorf("inherited config: %q", got)
	}
	// Dangling commit prints an ID and shows as <none>.
	id := d.MustCtr(t, "commit", "cfg")
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("dangling commit: %q", id)
	}
}

func TestCommitBadInput(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "create", "--name", "cc", "busybox")
	blobs := func() int {
		ents, _ := os.ReadDir(filepath.Join(d.DataRoot, "content", "blobs", "sha256"))
		return len(ents)
	}
	before := blobs()
	for _, args := range [][]string{
		{"commit", "nosuch", "x:1"},
		{"commit", "cc", "UPPER:tag"},
		{"commit", "--change", "FORM x", "cc", "x:2"},
		{"commit", "--change", "RUN echo", "cc", "x:3"},
	} {
		r := d.Ctr(args...)
		if r.Code == 0 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("%v: %s", args, r)
		}
		if args[1] == "--change" && !strings.Contains(r.Stderr, strings.Fields(args[2])[0]) {
			t.Errorf("error must name the instruction: %s", r)
		}
	}
	if after := blobs(); after != before {
		t.Errorf("failed commits left %d blobs", after-before)
	}
	if imgs := d.MustCtr(t, "images", "-q"); strings.Count(imgs, "\n") != 0 {
		t.Errorf("failed commits left images: %q", imgs)
	}
}

// TestCommitCrash: ctrd killed during a commit leaves no half image and no
// orphan blobs or snapshots after the next start.
func TestCommitCrash(t *testing.T) {
	d := busyboxDaemon(t)
	d.MustCtr(t, "run", "--name", "big", "busybox", "sh", "-c", "dd if=/dev/urandom of=/big bs=1M count=150 2>/dev/null")
	count := func(dir string) int {
		ents, _ := os.ReadDir(dir)
		return len(ents)
	}
	blobDir := filepath.Join(d.DataRoot, "content", "blobs", "sha256")
	snapDir := filepath.Join(d.DataRoot, "snapshots")
	blobs, snaps := count(blobDir), count(snapDir)
	done := make(chan Result, 1)
	go func() { done <- d.Ctr("commit", "big", "crash:1") }()
	time.Sleep(300 * time.Millisecond)
	d.Kill9(t)
	<-done
	d.Restart(t)
	if r := d.Ctr("inspect", "--type", "image", "crash:1"); r.Code == 0 {
		// The commit finished before the kill: then it must be whole.
		if out := d.MustCtr(t, "run", "--rm", "crash:1", "sh", "-c", "wc -c < /big"); out != "157286400" {
			t.Fatalf("half image: %q", out)
		}
		return
	}
	if n := count(blobDir); n != blobs {
		t.Errorf("blobs %d -> %d after a crashed commit", blobs, n)
	}
	if n := count(snapDir); n != snaps {
		t.Errorf("snapshots %d -> %d after a crashed commit", snaps, n)
	}
	if n := count(filepath.Join(d.DataRoot, "content", "ingest")); n != 0 {
		t.Errorf("%d ingest files left", n)
	}
	// And the container can still be committed.
	d.MustCtr(t, "commit", "big", "crash:2")
}

// A commit stores its layer as a blob only; the layer is unpacked, checked
// against its diff ID, when a container first needs it, and only once.
func TestCommitUnpacksOnFirstRun(t *testing.T) {
	d := busyboxDaemon(t)
	count := func() int { return len(d.snapshotDirs(t)) }
	d.MustCtr(t, "run", "--name", "src", "busybox", "sh", "-c", "echo hello > /greeting && printf 'MARK%.0s' $(seq 2000) > /marks")
	n0 := count()
	d.MustCtr(t, "commit", "src", "lazy:1")
	d.MustCtr(t, "commit", "src", "lazy:2")
	if n := count(); n != n0 {
		t.Fatalf("commit made %d snapshots, want none until a container needs the layer", n-n0)
	}

	// Two first runs at once: both see the layer, unpacked once.
	res := make(chan Result, 2)
	for i := 0; i < 2; i++ {
		go func() { res <- d.Ctr("run", "--rm", "lazy:1", "cat", "/greeting") }()
	}
	for i := 0; i < 2; i++ {
		if r := <-res; r.Code != 0 || strings.TrimSpace(r.Stdout) != "hello" {
			t.Fatalf("first run: %+v", r)
		}
	}
	if n := count(); n != n0+1 {
		t.Fatalf("snapshots %d -> %d after the first runs, want one more (the layer)", n0, n)
	}

	// A blob damaged on disk is refused when unpacked, with nothing left.
	d.MustCtr(t, "run", "--name", "src2", "busybox", "sh", "-c", "printf 'MARK%.0s' $(seq 2000) > /marks2")
	d.MustCtr(t, "commit", "src2", "damaged")
	top := d.MustCtr(t, "inspect", "-f", "{{index .RootFS.Layers 1}}", "damaged")
	blob := filepath.Join(d.DataRoot, "content", "blobs", "sha256", strings.TrimPrefix(top, "sha256:"))
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "MARKMARK")
	if i < 0 {
		t.Fatal("marker not in the layer blob")
	}
	b[i] = 'X'
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	n1 := count()
	r := d.Ctr("run", "--rm", "damaged", "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "does not match its diff ID") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
		t.Fatalf("run of a damaged layer: %+v", r)
	}
	if n := count(); n != n1 {
		t.Errorf("snapshots %d -> %d after a refused unpack", n1, n)
	}
	if out := d.MustCtr(t, "ps", "-aq", "-f", "ancestor=damaged"); out != "" {
		t.Errorf("containers left: %q", out)
	}
}
