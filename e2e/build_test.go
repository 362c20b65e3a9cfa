package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/ulikunitz/xz"
)

// The Dockerfiles of these tests live in testdata/build; each test copies
// its directory to a temporary one, as some tests change files.

var (
	buildStepRe      = regexp.MustCompile(`(?m)^Step (\d+)/(\d+) : (.*)$`)
	buildBuiltRe     = regexp.MustCompile(`(?m)^Successfully built ([0-9a-f]{12})$`)
	buildUsingCache  = " ---> Using cache"
	buildRunningInRe = regexp.MustCompile(`(?m)^ ---> Running in ([0-9a-f]{12})$`)
)

// buildDir copies testdata/build/name to a temporary directory.
func buildDir(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "build", name)
	dst := filepath.Join(t.TempDir(), filepath.Base(name))
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v %s", src, err, out)
	}
	return dst
}

// buildOK runs `ctr build ARGS...` and returns its output and the short
// ID it built.
func buildOK(t *testing.T, d *Daemon, args ...string) (string, string) {
	t.Helper()
	r := d.Ctr(append([]string{"build"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("ctr build %s: %s\ndaemon log:\n%s", strings.Join(args, " "), r, d.LogTail(30))
	}
	m := buildBuiltRe.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no 'Successfully built' line in:\n%s", r.Stdout)
	}
	return r.Stdout, m[1]
}

// buildFails runs a build that must fail with exit 1, with want in the
// last line of stderr.
func buildFails(t *testing.T, r Result, want string) {
	t.Helper()
	if r.Code != 1 {
		t.Fatalf("want exit code 1, got %s", r)
	}
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, want) {
		t.Fatalf("want %q in the error, got %s", want, r)
	}
}

func buildInspect(t *testing.T, d *Daemon, name, format string) string {
	t.Helper()
	return d.MustCtr(t, "inspect", "-f", format, name)
}

// buildLeftovers fails if a build left containers, mounts, scratch
// directories or unpack snapshots behind.
func buildLeftovers(t *testing.T, d *Daemon) {
	t.Helper()
	if out := d.MustCtr(t, "ps", "-a", "-q"); out != "" {
		t.Errorf("containers left behind: %s", out)
	}
	for _, root := range []string{d.DataRoot, filepath.Join(d.ExecRoot, "containers")} {
		mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(root))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mounts {
			t.Errorf("mount left behind: %s", m.Mountpoint)
		}
	}
	if es, _ := os.ReadDir(filepath.Join(d.DataRoot, "builder")); len(es) > 0 {
		t.Errorf("build scratch directories left behind: %v", es)
	}
	if es, _ := os.ReadDir(filepath.Join(d.DataRoot, "containers")); len(es) > 0 {
		t.Errorf("container directories left behind: %v", es)
	}
}

// buildRunOutput runs a container of image to its end and returns its output
// (from its log, which holds every byte).
func buildRunOutput(t *testing.T, d *Daemon, image string, args ...string) string {
	t.Helper()
	id := d.MustCtr(t, append([]string{"run", "-d", image}, args...)...)
	d.MustCtr(t, "wait", id)
	out := d.MustCtr(t, "logs", id)
	d.MustCtr(t, "rm", id)
	return out
}

// buildStoreState lists what the image store holds.
func buildStoreState(t *testing.T, d *Daemon) string {
	t.Helper()
	names := d.snapshotDirs(t)
	sort.Strings(names)
	return strings.Join(names, ",") + " | " + d.MustCtr(t, "images", "-a", "-q", "--no-trunc")
}

// TestBuildHTTPD builds the seed's example on busybox, serves its page,
// then checks the cache: a rebuild is all cache, touching a source changes
// nothing, changing it rebuilds from its step on, --no-cache rebuilds all.
func TestBuildHTTPD(t *testing.T) {
	t.Parallel()
	d := StartDaemon(t)
	d.ImportBusybox(t, "busybox:latest")
	dir := buildDir(t, "httpd")

	out, id := buildOK(t, d, "-t", "httpd:centos", dir)
	steps := buildStepRe.FindAllStringSubmatch(out, -1)
	if len(steps) != 9 || steps[0][1] != "1" || steps[0][2] != "9" || steps[0][3] != "FROM busybox:latest" ||
		steps[2][3] != "RUN mkdir -p /var/www/html && echo updated > /updated" {
		t.Fatalf("steps: %q\n%s", steps, out)
	}
	for _, want := range []string{
		"Sending build context to ctrd",
		"Step 2/9 : MAINTAINER this is apache image <w1>\n ---> ",
		"Removing intermediate container ",
		"Successfully tagged httpd:centos\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := len(buildRunningInRe.FindAllString(out, -1)); n != 3 {
		t.Errorf("%d RUN containers, want 3:\n%s", n, out)
	}
	if strings.Contains(out, buildUsingCache) {
		t.Errorf("first build used the cache:\n%s", out)
	}
	if got := buildInspect(t, d, "httpd:centos", "{{.Id}}"); !strings.HasPrefix(got, "sha256:"+id) {
		t.Fatalf("httpd:centos is %s, built %s", got, id)
	}
	cfg := buildInspect(t, d, "httpd:centos", "{{json .Config.Cmd}} {{json .Config.ExposedPorts}} {{.Author}}")
	if cfg != `["/run.sh"] {"80/tcp":{}} this is apache image <w1>` {
		t.Errorf("config: %s", cfg)
	}
	hist := d.MustCtr(t, "history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "httpd:centos")
	lines := strings.Split(hist, "\n")
	if len(lines) != 9 || lines[0] != `/bin/sh -c #(nop)  CMD ["/run.sh"]|0B` ||
		!strings.HasPrefix(lines[1], "/bin/sh -c chmod 755 /run.sh|") ||
		!regexp.MustCompile(`^/bin/sh -c #\(nop\) ADD file:[0-9a-f]{64} in /run.sh \|`).MatchString(lines[2]) ||
		lines[4] != "/bin/sh -c #(nop)  EXPOSE 80|0B" {
		t.Errorf("history:\n%s", hist)
	}

	// The page answers from inside the container.
	d.MustCtr(t, "run", "-d", "--name", "web", "httpd:centos")
	var page string
	for i := 0; i < 50; i++ {
		r := d.Ctr("exec", "web", "wget", "-qO-", "http://127.0.0.1:80/")
		if page = r.Stdout; r.Code == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if page != "<html><body>built by ctr build</body></html>\n" {
		t.Errorf("page = %q", page)
	}
	d.MustCtr(t, "rm", "-f", "web")

	// Intermediate images stay, as the cache.
	all := d.MustCtr(t, "images", "-a", "-q")
	if n := len(strings.Split(all, "\n")); n != 9 {
		t.Errorf("images -a lists %d images, want 9 (the base and one per step):\n%s", n, all)
	}
	if top := d.MustCtr(t, "images", "-q"); len(strings.Split(top, "\n")) != 2 {
		t.Errorf("images without -a: %s", top)
	}

	// A rebuild is all cache.
	out2, id2 := buildOK(t, d, "-t", "httpd:centos", dir)
	if id2 != id || strings.Count(out2, buildUsingCache) != 8 || buildRunningInRe.MatchString(out2) {
		t.Fatalf("rebuild (want all 8 steps cached, same ID %s):\n%s", id, out2)
	}
	// A new mtime, same content: still all cache.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "index.html"), future, future); err != nil {
		t.Fatal(err)
	}
	if out3, id3 := buildOK(t, d, dir); id3 != id || strings.Count(out3, buildUsingCache) != 8 {
		t.Fatalf("touching a source broke the cache:\n%s", out3)
	}
	// New content: steps 2-5 cached, 6-9 rebuilt.
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out4, id4 := buildOK(t, d, "-t", "httpd:centos", dir)
	if id4 == id || strings.Count(out4, buildUsingCache) != 4 || !strings.Contains(out4, "Step 5/9 : EXPOSE 80\n"+buildUsingCache) ||
		strings.Contains(out4, "Step 6/9 : ADD index.html /var/www/html/index.html\n"+buildUsingCache) ||
		len(buildRunningInRe.FindAllString(out4, -1)) != 1 {
		t.Fatalf("after a change of index.html:\n%s", out4)
	}
	// --no-cache rebuilds everything.
	out5, id5 := buildOK(t, d, "--no-cache", dir)
	if id5 == id4 || strings.Contains(out5, buildUsingCache) || len(buildRunningInRe.FindAllString(out5, -1)) != 3 {
		t.Fatalf("--no-cache:\n%s", out5)
	}
	// -q prints the ID only (the cache now holds two results for the
	// same steps: the newest is used).
	r := d.Ctr("build", "-q", dir)
	if r.Code != 0 || !regexp.MustCompile(`^sha256:`+id5+`[0-9a-f]{52}\n$`).MatchString(r.Stdout) {
		t.Fatalf("build -q: %s", r)
	}
	buildLeftovers(t, d)
}

// TestBuildInstructions checks the config and file system every other
// instruction gives.
func TestBuildInstructions(t *testing.T) {
	t.Parallel()
	d := StartDaemon(t)
	d.ImportBusybox(t, "busybox:latest")
	dir := buildDir(t, "instructions")
	out, _ := buildOK(t, d, "-t", "instr", "--build-arg", "GREETING=bonjour", "--build-arg", "UNUSED=1",
		"--label", "built.by=e2e", dir)
	if !strings.Contains(out, "[Warning] One or more build-args [UNUSED] were not consumed") {
		t.Errorf("no warning about UNUSED:\n%s", out)
	}
	if m := regexp.MustCompile(`Step (\d+)/(\d+) : LABEL built.by=e2e\n`).FindStringSubmatch(out); m == nil || m[1] != m[2] {
		t.Errorf("--label is not the last step:\n%s", out)
	}
	var cfg struct {
		Env          []string
		Cmd          []string
		Entrypoint   []string
		ExposedPorts map[string]struct{}
		Volumes      map[string]struct{}
		WorkingDir   string
		User         string
		Labels       map[string]string
		Healthcheck  struct {
			Test                           []string
			Interval, Timeout, StartPeriod time.Duration
			Retries                        int
		}
		OnBuild    []string
		StopSignal string
		Shell      []string
	}
	if err := json.Unmarshal([]byte(buildInspect(t, d, "instr", "{{json .Config}}")), &cfg); err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%s = %s, want %s", what, g, w)
		}
	}
	sort.Strings(cfg.Env) // Docker replaces a variable in place; order aside, the same set
	check("Env", cfg.Env, []string{"APP_HOME=/srv/app", "GREETING_COPY=bonjour", "PATH=/usr/local/bin:/usr/bin:/bin"})
	check("Entrypoint", cfg.Entrypoint, []string{"/bin/sh", "-c"})
	check("Cmd", cfg.Cmd, []string{"echo $GREETING_COPY from $APP_HOME"})
	check("ExposedPorts", cfg.ExposedPorts, map[string]struct{}{"8080/tcp": {}, "53/udp": {}})
	check("Volumes", cfg.Volumes, map[string]struct{}{"/data": {}, "/logs": {}})
	check("WorkingDir", cfg.WorkingDir, "/srv/app/sub")
	check("User", cfg.User, "root")
	check("Labels", cfg.Labels, map[string]string{"org.example.title": "instructions test", "org.example.greeting": "bonjour",
		"multi.word": "a b c", "built.by": "e2e"})
	hc := cfg.Healthcheck
	hc.Test = []string{"CMD-SHELL", "wget -qO- http://127.0.0.1:8080/ || exit 1"}
	hc.Interval, hc.Timeout, hc.StartPeriod, hc.Retries = 5*time.Second, 2*time.Second, time.Second, 4
	check("Healthcheck", cfg.Healthcheck, hc)
	check("OnBuild", cfg.OnBuild, []string{"RUN echo from-onbuild"})
	check("StopSignal", cfg.StopSignal, "SIGQUIT")
	check("Shell", cfg.Shell, []string{"/bin/sh", "-e", "-c"})

	// The files RUN made: build args in RUN's environment, USER, SHELL,
	// heredoc, the working directory created.
	got := buildRunOutput(t, d, "instr",
		"cat greeting.txt pwd.txt /tmp/uid.txt /shell.txt /heredoc.txt; stat -c '%U %a' /srv/app/sub; echo $GREETING_COPY from $APP_HOME")
	want := "bonjour default set\n/srv/app/sub\n1000\nerrexit\nheredoc line 1\nheredoc line 2\nroot 755\nbonjour from /srv/app"
	if got != want {
		t.Errorf("container says:\n%s\nwant:\n%s", got, want)
	}
	// A build arg is in RUN's history line (so the cache key), not in the
	// image's environment.
	hist := d.MustCtr(t, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "instr")
	if !strings.Contains(hist, "|1 GREETING=bonjour /bin/sh -c echo") {
		t.Errorf("RUN history lacks the build args:\n%s", hist)
	}
	// Another value of the build arg misses the cache from the first RUN
	// that sees it on, not before.
	out2, _ := buildOK(t, d, "--build-arg", "GREETING=hi", dir)
	if strings.Count(out2, buildUsingCache) != 2 || !strings.Contains(out2, "Step 3/") {
		t.Errorf("with another GREETING, want the 2 ARG steps before its first use cached:\n%s", out2)
	}
	buildLeftovers(t, d)
}

// TestBuildCopy checks ADD and COPY: destination rules, directories,
// wildcards, --chown/--chmod, archives, URLs, heredocs, .dockerignore.
func TestBuildCopy(t *testing.T) {
	t.Parallel()
	d := StartDaemon(t)
	d.ImportBusybox(t, "busybox:latest")
	dir := buildDir(t, "copy")
	if err := os.MkdirAll(filepath.Join(dir, "links"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Symlink("../a.txt", filepath.Join(dir, "links", "to-a"))
	_ = os.Symlink("/etc/passwd", filepath.Join(dir, "links", "abs"))

	// The archives: one tar, compressed three ways (the names lie on purpose
	// for bzip2: the content decides).
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "top/", Mode: 0o750, Uid: 1000, Gid: 1000},
		{Typeflag: tar.TypeReg, Name: "top/f.txt", Mode: 0o640, Size: 11},
		{Typeflag: tar.TypeReg, Name: "../../escape.txt", Mode: 0o644, Size: 11},
	} {
		h.ModTime = time.Unix(1700000000, 0)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			io.WriteString(tw, "in-archive\n")
		}
	}
	tw.Close()
	plain := tarBuf.Bytes()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("archive.tar", plain)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	write("archive.tar.gz", gz.Bytes())
	var xzb bytes.Buffer
	xw, err := xz.NewWriter(&xzb)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(plain)
	xw.Close()
	write("archive.tar.xz", xzb.Bytes())
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(plain)
	bz, err := cmd.Output()
	if err != nil {
		t.Skipf("bzip2: %v (apt-get install -y bzip2)", err)
	}
	write("archive.bz2.data", bz)

	// ADD of a URL: served here, never extracted.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", "Wed, 01 Jan 2020 00:00:00 GMT")
		w.Write(gz.Bytes())
	}))
	defer srv.Close()
	url := srv.URL + "/remote.tar.gz"

	out, _ := buildOK(t, d, "-t", "copy", "--build-arg", "URL="+url, dir)
	if strings.Count(out, "Running in") != 0 {
		t.Errorf("ADD/COPY ran containers:\n%s", out)
	}
	got := buildRunOutput(t, d, "copy", "sh", "-c", `cd /
for p in /dst /dst/a.txt /renamed.txt /tmp /tmp/a.txt /dircopy /dircopy/b.txt /dircopy/sub/d.txt /srv/dircontents/c.txt \
  /wild/b.txt /wild/c.txt /wild/d.txt /home/app /home/app/owned.txt /chowned /chowned/sub/d.txt /work/rel.txt \
  /x/plain/top /x/plain/top/f.txt /x/plain/escape.txt /x/gzip/top/f.txt /x/bzip2/top/f.txt /x/xz/top/f.txt \
  /x/copied/archive.tar.gz /downloads/remote.tar.gz /heredoc.txt /links/to-a /links/abs /links/real.txt; do
  stat -c "%n %a %u:%g %F" $p 2>&1
done
cat /heredoc.txt /x/xz/top/f.txt; readlink /links/to-a; date -u -r /downloads/remote.tar.gz +%Y; ls /dircopy`)
	want := `/dst 755 0:0 directory
/dst/a.txt 644 0:0 regular file
/renamed.txt 644 0:0 regular file
/tmp 1777 0:0 directory
/tmp/a.txt 644 0:0 regular file
/dircopy 755 0:0 directory
/dircopy/b.txt 644 0:0 regular file
/dircopy/sub/d.txt 644 0:0 regular file
/srv/dircontents/c.txt 644 0:0 regular file
/wild/b.txt 644 0:0 regular file
/wild/c.txt 644 0:0 regular file
/wild/d.txt 644 0:0 regular file
/home/app 755 1000:1000 directory
/home/app/owned.txt 600 1000:1000 regular file
/chowned 755 1000:1000 directory
/chowned/sub/d.txt 644 1000:1000 regular file
/work/rel.txt 644 0:0 regular file
/x/plain/top 750 1000:1000 directory
/x/plain/top/f.txt 640 0:0 regular file
/x/plain/escape.txt 644 0:0 regular file
/x/gzip/top/f.txt 640 0:0 regular file
/x/bzip2/top/f.txt 640 0:0 regular file
/x/xz/top/f.txt 640 0:0 regular file
/x/copied/archive.tar.gz 644 0:0 regular file
/downloads/remote.tar.gz 600 0:0 regular file
/heredoc.txt 644 0:0 regular file
/links/to-a 777 0:0 symbolic link
/links/abs 777 0:0 symbolic link
/links/real.txt 644 0:0 regular file
from a heredoc
in-archive
../a.txt
2020
b.txt
c.txt
sub`
	if got != want {
		t.Errorf("image contents:\n%s\nwant:\n%s", got, want)
	}

	// .dockerignore: excluded files are not in the context; exceptions are.
	ign := filepath.Join(dir, "ignored")
	os.Mkdir(ign, 0o755)
	for name, content := range map[string]string{
		"Dockerfile":    "FROM busybox\nCOPY keep.log /\n",
		"keep.log":      "kept\n",
		"secret.txt":    "secret\n",
		"debug.log":     "debug\n",
		".dockerignore": "secret.txt\n*.log\n!keep.log\n",
	} {
		os.WriteFile(filepath.Join(ign, name), []byte(content), 0o644)
	}
	buildOK(t, d, ign)
	os.WriteFile(filepath.Join(ign, "Dockerfile"), []byte("FROM busybox\nCOPY secret.txt /\n"), 0o644)
	buildFails(t, d.Ctr("build", ign), "Dockerfile:2: COPY failed: file not found in build context or excluded by .dockerignore: stat secret.txt")
	os.WriteFile(filepath.Join(ign, "Dockerfile"), []byte("FROM busybox\nCOPY *.log /logs/\n"), 0o644)
	_, id := buildOK(t, d, ign)
	if got := buildRunOutput(t, d, id, "ls", "/logs"); got != "keep.log" {
		t.Errorf("COPY *.log copied %q, want keep.log only", got)
	}

	// A rebuild is all cache (the URL is downloaded again and checksummed).
	out2, _ := buildOK(t, d, "--build-arg", "URL="+url, dir)
	if strings.Count(out2, buildUsingCache) != 19 {
		t.Errorf("rebuild not all cached:\n%s", out2)
	}
	buildLeftovers(t, d)
}

// TestBuildMultiStage checks COPY --from (name, index, image), FROM a
// stage, --target, and that only the final image is tagged.
func TestBuildMultiStage(t *testing.T) {
	t.Parallel()
	d := StartDaemon(t)
	d.ImportBusybox(t, "busybox:latest")
	dir := buildDir(t, "multistage")
	out, _ := buildOK(t, d, "-t", "ms:final", dir)
	if !strings.Contains(out, "Step 9/9 : CMD") || strings.Count(out, "Successfully tagged") != 1 {
		t.Errorf("output:\n%s", out)
	}
	if got := buildRunOutput(t, d, "ms:final"); got != "built-in-builder" {
		t.Errorf("final image says %q", got)
	}
	if got := buildRunOutput(t, d, "ms:final", "sh", "-c", "cat /out0/hello; grep -c app /group.copy"); got != "built-in-builder\n1" {
		t.Errorf("COPY --from=0 / --from=image: %q", got)
	}
	if tags := d.MustCtr(t, "images", "--format", "{{.Repository}}:{{.Tag}}"); strings.ReplaceAll(tags, "<none>:<none>\n", "") != "ms:final\nbusybox:latest" {
		t.Errorf("tagged images: %q", tags)
	}
	out2, id2 := buildOK(t, d, "--target", "builder", "-t", "ms:builder", dir)
	if !strings.Contains(out2, "Step 2/2 : RUN") || !strings.Contains(out2, buildUsingCache) {
		t.Errorf("--target builder:\n%s", out2)
	}
	if got := buildRunOutput(t, d, id2, "cat", "/out/hello"); got != "built-in-builder" {
		t.Errorf("builder stage image: %q", got)
	}
	buildFails(t, d.Ctr("build", "--target", "nosuch", dir), `target stage "nosuch" could not be found`)
	buildLeftovers(t, d)
}

// TestBuildOnBuild checks that ONBUILD triggers are stored, run first in a
// build FROM the image, and not inherited.
func TestBuildOnBuild(t *testing.T) {
	t.Parallel()
	d := StartDaemon(t)
	d.ImportBusybox(t, "busybox:latest")
	buildOK(t, d, "-t", "onbuild-base", buildDir(t, "onbuild/base"))
	if got := buildInspect(t, d, "onbuild-base", "{{json .Config.OnBuild}}"); got != `["COPY . /app","RUN echo triggered > /app/trigger.txt"]` {
		t.Errorf("OnBuild = %s", got)
	}
	out, _ := buildOK(t, d, "-t", "onbuild-child", buildDir(t, "onbuild/child"))
	if !strings.Contains(out, "# Executing 2 build triggers\n") || !strings.Contains(out, "triggered\nchild file\n") {
		t.Errorf("output:\n%s", out)
	}
	if got := buildInspect(t, d, "onbuild-child", "{{json .Config.OnBuild}}"); got != "null" {
		t.Errorf("child OnBuild = %s", got)
	}
	if got := buildRunOutput(t, d, "onbuild-child"); got != "Dockerfile\nfile.txt\ntrigger.txt" {
		t.Errorf("child /app: %q", got)
	}
	buildLeftovers(t, d)
}

// TestBuildBadInput checks that bad Dockerfiles and contexts fail with
// exit 1 and a located message, and leave nothing behind.
func TestBuildBadInput(t *testing.T) {
	t.Parallel()
	d := StartDaemon(t)
	d.ImportBusybox(t, "busybox:latest")
	// Unpack the base layer first, as the first RUN of any build would:
	// what a failed build must not leave is anything beyond that.
	d.MustCtr(t, "run", "--rm", "busybox:latest", "true")
	before := buildStoreState(t, d)
	for _, c := range []struct{ name, dockerfile, want string }{
		{"unknown instruction", "FORM centos:7\n", "Dockerfile:1: unknown instruction: FORM"},
		{"no FROM", "# comment\nRUN true\n", "Dockerfile:2: no build stage: RUN before FROM"},
		{"only ARG", "ARG A=1\n", "Dockerfile:1: no FROM instruction"},
		{"empty", "", "Dockerfile:1: the Dockerfile (Dockerfile) cannot be empty"},
		{"comments only", "# nothing\n\n", "Dockerfile:1: the Dockerfile (Dockerfile) cannot be empty"},
		{"unknown base", "FROM nosuch-image:v1\n", "Dockerfile:1: unable to find image 'nosuch-image:v1' locally"},
		{"unknown stage", "FROM busybox\nCOPY --from=nostage /a /b\n", "Dockerfile:2: invalid from flag value nostage"},
		{"missing source", "FROM busybox\nCOPY missing.txt /\n", "Dockerfile:2: COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt"},
		{"missing wildcard", "FROM busybox\nCOPY *.nothing /x/\n", "Dockerfile:2: COPY failed: no source files were specified"},
		{"outside context", "FROM busybox\nCOPY ../../etc/passwd /\n", "Dockerfile:2: COPY failed: forbidden path outside the build context: ../../etc/passwd"},
		{"ADD outside context", "FROM busybox\nADD ../x /\n", "Dockerfile:2: ADD failed: forbidden path outside the build context: ../x"},
		{"bad JSON", "FROM busybox\nCMD [\"echo\", \"hi\"\n", "Dockerfile:2: CMD: invalid JSON in exec form"},
		{"bad JSON RUN", "FROM busybox\n\nRUN [\"echo\" \"hi\"]\n", "Dockerfile:3: RUN: invalid JSON in exec form"},
		{"ARG without name", "FROM busybox\nARG\n", "Dockerfile:2: ARG requires at least one argument"},
		{"ARG blank name", "FROM busybox\nARG =x\n", "Dockerfile:2: ARG names can not be blank"},
		{"ONBUILD ONBUILD", "FROM busybox\nONBUILD ONBUILD RUN true\n", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{"ONBUILD FROM", "FROM busybox\nONBUILD FROM busybox\n", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"},
		{"multi source no slash", "FROM busybox\nCOPY Dockerfile Dockerfile /x\n", "Dockerfile:2: When using COPY with more than one source file, the destination must be a directory and end with a /"},
		{"bad chown", "FROM busybox\nCOPY --chown=nobody-here Dockerfile /x\n", "can't find uid for user nobody-here"},
		{"failing RUN", "FROM busybox\nRUN false\n", "The command '/bin/sh -c false' returned a non-zero code: 1"},
		{"failing exec RUN", "FROM busybox\nRUN [\"sh\", \"-c\", \"exit 3\"]\n", "The command 'sh -c exit 3' returned a non-zero code: 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := d.CtrStdin(strings.NewReader(c.dockerfile), "build", "-")
			buildFails(t, r, c.want)
		})
	}
	if r := d.Ctr("build", "-t", "Bad:Tag", "."); r.Code != 125 || !strings.Contains(r.Stderr, "invalid reference format") {
		t.Errorf("bad tag: %s", r)
	}
	buildLeftovers(t, d)
	if after := buildStoreState(t, d); after != before {
		t.Errorf("failed builds changed the store:\nbefore %s\nafter  %s", before, after)
	}

	// An unreadable context file (root without CAP_DAC_OVERRIDE cannot
	// read a 000 file) fails before anything is sent, unless excluded.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nCOPY . /ctx\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o000)
	env := append(cleanEnv(), "CTR_HOST="+d.Host)
	noDAC := []string{"--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", ctrBin, "build", dir}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Logf("setpriv not found: unreadable-file case skipped")
	} else {
		r := runCmd(nil, time.Minute, env, "setpriv", noDAC...)
		buildFails(t, r, "error checking context: can't read secret: permission denied")
		os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("secret\n"), 0o644)
		if r := runCmd(nil, time.Minute, env, "setpriv", noDAC...); r.Code != 0 {
			t.Errorf("with secret excluded: %s", r)
		}
	}
	buildLeftovers(t, d)
}

// TestBuildContexts checks a Dockerfile on stdin, a tar context on stdin
// and -f with a Dockerfile outside the context.
func TestBuildContexts(t *testing.T) {
	t.Parallel()
	d := StartDaemon(t)
	d.ImportBusybox(t, "busybox:latest")
	// A lone Dockerfile on stdin.
	r := d.CtrStdin(strings.NewReader("FROM busybox\nLABEL from=stdin\n"), "build", "-t", "stdin:df", "-")
	if r.Code != 0 || buildInspect(t, d, "stdin:df", "{{.Config.Labels.from}}") != "stdin" {
		t.Fatalf("Dockerfile on stdin: %s", r)
	}
	// A (gzip) tar context on stdin, its Dockerfile named with -f.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range map[string]string{"build/Custom.df": "FROM busybox\nCOPY hello.txt /\n", "hello.txt": "hello from tar\n"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		io.WriteString(tw, body)
	}
	tw.Close()
	zw.Close()
	r = d.CtrStdin(&buf, "build", "-f", "build/Custom.df", "-t", "stdin:tar", "-")
	if r.Code != 0 {
		t.Fatalf("tar on stdin: %s", r)
	}
	if got := buildRunOutput(t, d, "stdin:tar", "cat", "/hello.txt"); got != "hello from tar" {
		t.Errorf("hello.txt = %q", got)
	}
	// -f outside the context directory.
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "x.txt"), []byte("x\n"), 0o644)
	df := filepath.Join(t.TempDir(), "Elsewhere.dockerfile")
	os.WriteFile(df, []byte("FROM busybox\nCOPY x.txt /\n"), 0o644)
	if r := d.Ctr("build", "-f", df, "-t", "outside:df", ctx); r.Code != 0 {
		t.Fatalf("-f outside the context: %s", r)
	}
	if got := buildRunOutput(t, d, "outside:df", "ls", "/"); strings.Contains(got, "dockerfile") {
		t.Errorf("the generated Dockerfile name leaked into the image: %s", got)
	}
	buildLeftovers(t, d)
}

// TestBuildHTTPDDebian builds the seed's example on a Debian base made with
// debootstrap, installing apache2 with apt-get in RUN (network needed).
// Slow: it runs only with CTRD_E2E_DEBIAN=1 and debootstrap installed.
func TestBuildHTTPDDebian(t *testing.T) {
	if os.Getenv("CTRD_E2E_DEBIAN") == "" {
		t.Skip("slow: set CTRD_E2E_DEBIAN=1 (needs debootstrap and a Debian mirror)")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Skip("debootstrap not found: apt-get install -y debootstrap")
	}
	d := StartDaemon(t)
	d.Timeout = 15 * time.Minute
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	mirror := os.Getenv("CTRD_E2E_DEBIAN_MIRROR")
	if mirror == "" {
		mirror = "http://deb.debian.org/debian"
	}
	if r := runCmd(nil, 20*time.Minute, cleanEnv(), "debootstrap", "--variant=minbase", "bookworm", rootfs, mirror); r.Code != 0 {
		t.Fatalf("debootstrap: %s", r)
	}
	tarball := filepath.Join(t.TempDir(), "debian.tar")
	if r := runCmd(nil, 5*time.Minute, cleanEnv(), "tar", "--numeric-owner", "-C", rootfs, "-cf", tarball, "."); r.Code != 0 {
		t.Fatalf("tar: %s", r)
	}
	d.MustCtr(t, "import", "-c", `CMD ["/bin/bash"]`, tarball, "debian:bookworm")
	buildOK(t, d, "-t", "httpd:debian", buildDir(t, "httpd-debian"))
	d.MustCtr(t, "run", "-d", "--name", "apache", "httpd:debian")
	var page string
	for i := 0; i < 100; i++ {
		r := d.Ctr("exec", "apache", "curl", "-fsS", "http://127.0.0.1:80/")
		if page = r.Stdout; r.Code == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if page != "<html><body>apache built by ctr build</body></html>\n" {
		t.Errorf("page = %q", page)
	}
	d.MustCtr(t, "rm", "-f", "apache")
	buildLeftovers(t, d)
}
