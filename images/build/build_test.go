package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ctrd/ctrd/images/config"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// TestParseErrors needs no store: the Dockerfile is refused before any
// image is looked at.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ df, want string }{
		{"FORM centos:7\n", "Dockerfile:1: unknown instruction: FORM"},
		{"\n\nfrom busybox\nRUNN x\n", "Dockerfile:4: unknown instruction: RUNN"},
		{"RUN true\n", "Dockerfile:1: no build stage: RUN before FROM"},
		{"ARG A\nARG B\n", "Dockerfile:2: no FROM instruction"},
		{"", "Dockerfile:1: the Dockerfile (Dockerfile) cannot be empty"},
		{"# only\n# comments\n", "Dockerfile:1: the Dockerfile (Dockerfile) cannot be empty"},
		{"FROM x\nCMD [\"a\",\n", "Dockerfile:2: CMD: invalid JSON in exec form"},
		{"FROM x\nENTRYPOINT [\"a\" \"b\"]\n", "Dockerfile:2: ENTRYPOINT: invalid JSON in exec form"},
		{"FROM x\nHEALTHCHECK --interval=1s CMD [\"a\",]\n", "Dockerfile:2: HEALTHCHECK: invalid JSON"},
		{"FROM x\nSHELL sh -c\n", "Dockerfile:2: SHELL requires the arguments to be in JSON form"},
		{"FROM x\nARG\n", "Dockerfile:2: ARG requires at least one argument"},
		{"FROM x\nARG =v\n", "Dockerfile:2: ARG names can not be blank"},
		{"FROM x\nONBUILD ONBUILD RUN x\n", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{"FROM x\nONBUILD MAINTAINER me\n", "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger"},
		{"FROM x\nRUN --mount=type=cache,target=/c true\n", "Dockerfile:2: RUN --mount is not supported"},
		{"FROM x\nCOPY\n", "Dockerfile:2: COPY requires at least two arguments"},
		{"FROM a AS 1bad\n", "Dockerfile:1: invalid name for build stage"},
		{"FROM x\nRUN <<EOF\nnever ends\n", "Dockerfile:2: unterminated heredoc"},
	} {
		b := &Builder{Root: t.TempDir()}
		var out bytes.Buffer
		_, err := b.Build(context.Background(), Options{Context: bytes.NewReader(ctxTar(t, map[string]string{"Dockerfile": c.df})), Out: &out})
		var be *Error
		if err == nil || !errors.As(err, &be) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.df, err, c.want)
		}
	}
	b := &Builder{Root: t.TempDir()}
	_, err := b.Build(context.Background(), Options{Context: bytes.NewReader(ctxTar(t, map[string]string{"Dockerfile": "FROM x\n"})), Target: "nope"})
	if err == nil || !strings.Contains(err.Error(), `target stage "nope" could not be found`) {
		t.Errorf("unknown target: %v", err)
	}
	_, err = b.Build(context.Background(), Options{Context: bytes.NewReader(ctxTar(t, map[string]string{"x": ""}))})
	if err == nil || err.Error() != "Cannot locate specified Dockerfile: Dockerfile" {
		t.Errorf("no Dockerfile: %v", err)
	}
	_, err = b.Build(context.Background(), Options{Context: bytes.NewReader(ctxTar(t, map[string]string{"Dockerfile": "FROM x\n"})), Tags: []string{"Bad:Tag"}})
	if err == nil || !strings.Contains(err.Error(), "invalid reference format") {
		t.Errorf("bad tag: %v", err)
	}
	if es, _ := os.ReadDir(b.Root); len(es) > 0 {
		t.Errorf("scratch left behind: %v", es)
	}
}

func TestCheckJSON(t *testing.T) {
	for src, bad := range map[string]bool{
		`RUN ["echo", "hi"]`:          false,
		`RUN [ -f /etc/passwd ]`:      false,
		`RUN ["echo" "hi"]`:           true,
		`CMD ["a",`:                   true,
		`COPY --chown=1 ["a", "b"] /`: true,
		`COPY ["a", "b/"]`:            false,
		`HEALTHCHECK CMD ["x"`:        true,
		`HEALTHCHECK NONE`:            false,
		`LABEL a=["b"`:                false,
	} {
		res, err := parser.Parse(strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkJSON(res.AST.Children[0]); (err != nil) != bad {
			t.Errorf("%s: err = %v, want error %v", src, err, bad)
		}
	}
}

func TestRunCommandLine(t *testing.T) {
	parse := func(src string) *instructions.RunCommand {
		res, err := parser.Parse(strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		c, err := instructions.ParseInstruction(res.AST.Children[0])
		if err != nil {
			t.Fatal(err)
		}
		return c.(*instructions.RunCommand)
	}
	cfg := &config.Config{}
	for src, want := range map[string][]string{
		"RUN echo $HOME   hi":              {"/bin/sh", "-c", "echo $HOME   hi"},
		`RUN ["echo", "$HOME"]`:            {"echo", "$HOME"},
		"RUN <<EOF\necho a\necho b\nEOF\n": {"/bin/sh", "-c", "echo a\necho b\n"},
		"RUN cat <<EOF >/x\nline\nEOF\n":   {"/bin/sh", "-c", "cat <<EOF >/x\nline\nEOF"},
	} {
		if got := runCommandLine(cfg, parse(src)); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %q, want %q", src, got, want)
		}
	}
	cfg.Shell = []string{"/bin/bash", "-eo", "pipefail", "-c"}
	if got := runCommandLine(cfg, parse("RUN a | b")); !reflect.DeepEqual(got, []string{"/bin/bash", "-eo", "pipefail", "-c", "a | b"}) {
		t.Errorf("SHELL: %q", got)
	}
}

func TestWildcardsAndGlob(t *testing.T) {
	for s, want := range map[string]bool{"a.txt": false, "*.txt": true, "a?c": true, "[ab]": true, `a\*b`: false, "dir/": false} {
		if hasWildcards(s) != want {
			t.Errorf("hasWildcards(%q) != %v", s, want)
		}
	}
	root := t.TempDir()
	for _, p := range []string{"a.txt", "b.log", "dir/c.txt", "dir/sub/d.txt", "other/e.txt"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), nil, 0o644)
	}
	for pat, want := range map[string][]string{
		"*.txt":       {"a.txt"},
		"/*.txt":      {"a.txt"},
		"*/*.txt":     {"dir/c.txt", "other/e.txt"},
		"dir/*":       {"dir/c.txt", "dir/sub"},
		"d?r/sub/*.*": {"dir/sub/d.txt"},
		"*.none":      nil,
	} {
		got, err := glob(root, pat)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("glob(%q) = %q, %v; want %q", pat, got, err, want)
		}
	}
}

func TestChownChmod(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nstaff:x:50:\n"), 0o644)
	m := &fsMount{Root: root}
	for spec, want := range map[string]identity{
		"app": {1000, 1000}, "app:staff": {1000, 50}, "10": {10, 10}, "10:20": {10, 20}, "app:7": {1000, 7},
	} {
		got, err := parseChown(m, spec)
		if err != nil || got != want {
			t.Errorf("parseChown(%q) = %v, %v; want %v", spec, got, err, want)
		}
	}
	for _, spec := range []string{"nobody", "app:nogroup", ":1", "1:"} {
		if _, err := parseChown(m, spec); err == nil {
			t.Errorf("parseChown(%q) succeeded", spec)
		}
	}
	if _, err := parseChown(&fsMount{}, "app"); err == nil {
		t.Error("a name resolved in an empty file system")
	}
	if m, err := parseChmod("0750"); err != nil || m != 0o750 {
		t.Errorf("parseChmod: %o %v", m, err)
	}
	for _, s := range []string{"u+x", "99", "17777"} {
		if _, err := parseChmod(s); err == nil {
			t.Errorf("parseChmod(%q) succeeded", s)
		}
	}
}

// TestMetadataAndHistory checks the config and the history lines (Docker's
// classic builder's) of metadata instructions, and ARG scoping.
func TestMetadataAndHistory(t *testing.T) {
	tb := newTestBuild(t)
	df := `ARG BASE=base
ARG V=1
FROM ${BASE}:latest AS first
ARG V
ARG W=w-$V
ENV A=a$V B="b c" \
    C=${W:+set}
LABEL l1=$A "l 2"="x y"
MAINTAINER Jane <jane@example.com>
EXPOSE 80 53/udp 8000-8001
USER app
WORKDIR /srv
WORKDIR sub
VOLUME /v1
VOLUME ["/v2"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=3s --retries=2 CMD true
ONBUILD RUN echo hi
SHELL ["/bin/sh", "-e", "-c"]
ENTRYPOINT ["/e"]
CMD run me
`
	out, img := tb.mustBuild(map[string]string{"Dockerfile": df}, Options{BuildArgs: []string{"V=7", "NOPE=1"}, Labels: []string{"z=last", "a=first"}, Tags: []string{"meta:v1"}})
	if !strings.Contains(out, "[Warning] One or more build-args [NOPE] were not consumed") ||
		!strings.Contains(out, "Step 19/20 : LABEL a=first") || !strings.Contains(out, "Step 20/20 : LABEL z=last") ||
		!strings.HasSuffix(out, "Successfully tagged meta:v1\n") {
		t.Errorf("output:\n%s", out)
	}
	cfg := tb.config(img)
	want := config.Config{}
	want.User = "app"
	want.Env = []string{"PATH=" + DefaultPath, "A=a7", "B=b c", "C=set"}
	want.Labels = map[string]string{"l1": "a7", "l 2": "x y", "a": "first", "z": "last"}
	want.ExposedPorts = map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}
	want.WorkingDir = "/srv/sub"
	want.Volumes = map[string]struct{}{"/v1": {}, "/v2": {}}
	want.StopSignal = "SIGINT"
	want.OnBuild = []string{"RUN echo hi"}
	want.Shell = []string{"/bin/sh", "-e", "-c"}
	want.Entrypoint = []string{"/e"}
	want.Cmd = []string{"/bin/sh", "-e", "-c", "run me"}
	want.Healthcheck = cfg.Config.Healthcheck
	if h := cfg.Config.Healthcheck; h == nil || h.Interval.Seconds() != 3 || h.Retries != 2 || !reflect.DeepEqual(h.Test, []string{"CMD-SHELL", "true"}) {
		t.Errorf("Healthcheck = %+v", h)
	}
	g, _ := json.Marshal(cfg.Config)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("config\n got %s\nwant %s", g, w)
	}
	if cfg.Author != "Jane <jane@example.com>" {
		t.Errorf("Author = %q", cfg.Author)
	}
	var hist []string
	for _, h := range cfg.History[1:] {
		if h.EmptyLayer == strings.Contains(h.CreatedBy, "WORKDIR") {
			t.Errorf("%s: EmptyLayer = %v", h.CreatedBy, h.EmptyLayer)
		}
		hist = append(hist, h.CreatedBy)
	}
	wantHist := []string{
		"/bin/sh -c #(nop)  ARG V",
		"/bin/sh -c #(nop)  ARG W=w-7",
		"/bin/sh -c #(nop)  ENV A=a7 B=b c C=set",
		"/bin/sh -c #(nop)  LABEL l1=a7 l 2=x y",
		"/bin/sh -c #(nop)  MAINTAINER Jane <jane@example.com>",
		"/bin/sh -c #(nop)  EXPOSE 53/udp 80 8000-8001",
		"/bin/sh -c #(nop)  USER app",
		"/bin/sh -c #(nop) WORKDIR /srv",
		"/bin/sh -c #(nop) WORKDIR /srv/sub",
		"/bin/sh -c #(nop)  VOLUME [/v1]",
		"/bin/sh -c #(nop)  VOLUME [/v2]",
		"/bin/sh -c #(nop)  STOPSIGNAL SIGINT",
		`/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "3s" "0s" "0s" "0s" '\x02'}`,
		"/bin/sh -c #(nop)  ONBUILD RUN echo hi",
		"/bin/sh -e -c #(nop)  SHELL [/bin/sh -e -c]",
		`/bin/sh -e -c #(nop)  ENTRYPOINT ["/e"]`,
		`/bin/sh -e -c #(nop)  CMD ["/bin/sh" "-e" "-c" "run me"]`,
		"/bin/sh -e -c #(nop)  LABEL a=first",
		"/bin/sh -e -c #(nop)  LABEL z=last",
	}
	if !reflect.DeepEqual(hist, wantHist) {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(hist, "\n"), strings.Join(wantHist, "\n"))
	}
	// WORKDIR created the directories it named, owned by root.
	f := tb.files(img, "/srv", "/srv/sub")
	if f["/srv"] != "755 0:0 dir" || f["/srv/sub"] != "755 0:0 dir" {
		t.Errorf("WORKDIR directories: %v", f)
	}
	// Intermediate images chain by Parent.
	for cur, n := img, 0; ; n++ {
		if cur.Parent == "" {
			if n != len(cfg.History)-1 {
				t.Errorf("%d images in the chain, want one per step and the base", n+1)
			}
			break
		}
		var err error
		if cur, err = tb.st.Resolve(cur.Parent.String()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCacheRules checks the cache keys: parent, instruction with expanded
// arguments, build args of RUN, ADD/COPY sources' content and metadata but
// not their times; one miss invalidates later steps.
func TestCacheRules(t *testing.T) {
	tb := newTestBuild(t)
	df := "FROM base\nARG X=1\nENV E=$X\nCOPY f.txt /f.txt\nRUN make\nCMD [\"x\"]\n"
	files := map[string]string{"Dockerfile": df, "f.txt": "one\n"}
	out, img := tb.mustBuild(files, Options{})
	if cached(out) != 0 || len(tb.fb.runs) != 1 {
		t.Fatalf("first build:\n%s", out)
	}
	if r := tb.fb.runs[0]; !reflect.DeepEqual(r.Cmd, []string{"/bin/sh", "-c", "make"}) || !reflect.DeepEqual(r.Env, []string{"X=1"}) {
		t.Errorf("RUN request %+v", r)
	}
	out, img2 := tb.mustBuild(files, Options{})
	if cached(out) != 5 || img2.ID != img.ID || len(tb.fb.runs) != 1 {
		t.Fatalf("rebuild:\n%s", out)
	}
	// The history line of RUN carries the build args.
	if h := tb.config(img).History; h[len(h)-2].CreatedBy != "|1 X=1 /bin/sh -c make" {
		t.Errorf("RUN history: %q", h[len(h)-2].CreatedBy)
	}
	// A build arg changes ENV's expansion: a miss from there on.
	out, img3 := tb.mustBuild(files, Options{BuildArgs: []string{"X=2"}})
	if cached(out) != 1 || !strings.Contains(out, "Step 3/6 : ENV E=$X\n ---> ") || img3.ID == img.ID || len(tb.fb.runs) != 2 {
		t.Fatalf("X=2:\n%s", out)
	}
	// Same content, other file: still cached (times are not in the key).
	files["f.txt"] = "one\n"
	out, _ = tb.mustBuild(files, Options{})
	if cached(out) != 5 {
		t.Errorf("same content:\n%s", out)
	}
	// Other content: COPY and the rest miss.
	files["f.txt"] = "two\n"
	out, _ = tb.mustBuild(files, Options{})
	if cached(out) != 2 || !strings.Contains(out, "Step 4/6 : COPY f.txt /f.txt\n ---> ") || len(tb.fb.runs) != 3 {
		t.Errorf("changed content:\n%s", out)
	}
	// --no-cache: nothing cached, a new image.
	out, img4 := tb.mustBuild(files, Options{NoCache: true})
	if cached(out) != 0 || len(tb.fb.runs) != 4 || img4.ID == img.ID {
		t.Errorf("--no-cache:\n%s", out)
	}
	// ENV overrides an ARG of the same name in RUN's environment and key.
	tb.fb.runs = nil
	tb.mustBuild(map[string]string{"Dockerfile": "FROM base\nARG P=argval\nARG Q=q\nENV P=envval\nRUN p\n"}, Options{BuildArgs: []string{"HTTP_PROXY=http://proxy:3128"}})
	r := tb.fb.runs[0]
	if !reflect.DeepEqual(r.Env, []string{"Q=q", "HTTP_PROXY=http://proxy:3128"}) {
		t.Errorf("RUN env = %q", r.Env)
	}
	out, _ = tb.mustBuild(map[string]string{"Dockerfile": "FROM base\nARG P=argval\nARG Q=q\nENV P=envval\nRUN p\n"}, Options{BuildArgs: []string{"HTTP_PROXY=http://other:3128"}})
	if cached(out) != 4 || strings.Contains(out, "[Warning]") {
		t.Errorf("a predefined proxy arg is not part of the cache key:\n%s", out)
	}
}

// TestCacheKeyCopyMetadata: a mode change of a source misses; the source
// name matters too.
func TestCacheKeyCopyMetadata(t *testing.T) {
	bd := &build{hashes: map[string]string{}}
	dir := t.TempDir()
	p := filepath.Join(dir, "a")
	os.WriteFile(p, []byte("x"), 0o644)
	src := func(name string) []source {
		fi, _ := os.Stat(p)
		return []source{{kind: srcFile, host: p, info: fi, base: name}}
	}
	sum1, _ := bd.checksum(src("a"))
	sum2, _ := bd.checksum(src("b"))
	os.Chmod(p, 0o755)
	sum3, _ := bd.checksum(src("a"))
	if !strings.HasPrefix(sum1, "file:") || sum1 == sum2 || sum1 == sum3 {
		t.Errorf("checksums %s %s %s", sum1, sum2, sum3)
	}
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "f"), []byte("y"), 0o644)
	fi, _ := os.Stat(filepath.Join(dir, "d"))
	d1, _ := bd.checksum([]source{{kind: srcDir, host: filepath.Join(dir, "d"), info: fi}})
	os.WriteFile(filepath.Join(dir, "d", "g"), nil, 0o644)
	d2, _ := bd.checksum([]source{{kind: srcDir, host: filepath.Join(dir, "d"), info: fi}})
	if !strings.HasPrefix(d1, "dir:") || d1 == d2 {
		t.Errorf("dir checksums %s %s", d1, d2)
	}
	m, _ := bd.checksum(append(src("a"), src("b")...))
	if !strings.HasPrefix(m, "multi:") {
		t.Errorf("multi: %s", m)
	}
}

// TestCopy checks ADD/COPY destinations against the image's file system.
func TestCopy(t *testing.T) {
	tb := newTestBuild(t)
	arch := string(makeTar(t, tarFile{name: "in/", typ: '5', mode: 0o750, uid: 7}, tarFile{name: "in/x", body: "x"}, tarFile{name: ".wh.afile", body: ""}))
	df := `FROM base
COPY f /tmp
COPY f /lnk/
COPY f /new/dir/
COPY f /renamed
COPY d /d-contents
COPY d/ /afile2/
COPY --chown=app:staff --chmod=0640 f d /owned/
WORKDIR /w
COPY f rel
ADD a.tar /x
COPY a.tar /y/
COPY <<"EOT" /here
doc $HOME
EOT
`
	files := map[string]string{"Dockerfile": df, "f": "f\n", "d/": "", "d/g": "g\n", "d/sub/": "", "d/sub/h": "h\n", "a.tar": arch}
	_, img := tb.mustBuild(files, Options{})
	got := tb.files(img, "/tmp", "/tmp/f", "/lnk", "/target/f", "/new/dir/f", "/renamed", "/d-contents/g", "/d-contents/sub/h",
		"/afile2/g", "/owned", "/owned/f", "/owned/g", "/owned/sub/h", "/w/rel", "/x/in", "/x/in/x", "/afile", "/y/a.tar", "/here")
	want := map[string]string{
		"/tmp": "1777 0:0 dir", "/tmp/f": "644 0:0 f", "/lnk": "-> target", "/target/f": "644 0:0 f",
		"/new/dir/f": "644 0:0 f", "/renamed": "644 0:0 f", "/d-contents/g": "644 0:0 g", "/d-contents/sub/h": "644 0:0 h",
		"/afile2/g": "644 0:0 g", "/owned": "755 1000:50 dir", "/owned/f": "640 1000:50 f", "/owned/g": "640 1000:50 g",
		"/owned/sub/h": "640 1000:50 h", "/w/rel": "644 0:0 f", "/x/in": "750 7:7 dir", "/x/in/x": "644 0:0 x",
		"/afile": "644 0:0 a file", "/y/a.tar": "644 0:0 " + strings.TrimSuffix(arch, "\n"), "/here": "644 0:0 doc $HOME",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	// /target (0700) kept its mode although a file was copied into it.
	if f := tb.files(img, "/target"); f["/target"] != "700 0:0 dir" {
		t.Errorf("/target: %v", f)
	}

	for df, want := range map[string]string{
		"FROM base\nCOPY nope /\n":          "Dockerfile:2: COPY failed: file not found in build context or excluded by .dockerignore: stat nope",
		"FROM base\nCOPY ../f /\n":          "Dockerfile:2: COPY failed: forbidden path outside the build context: ../f",
		"FROM base\nCOPY f d /x\n":          "Dockerfile:2: When using COPY with more than one source file",
		"FROM base\nCOPY *.none /x/\n":      "Dockerfile:2: COPY failed: no source files were specified",
		"FROM base\nCOPY f /afile/x\n":      "Dockerfile:2: COPY failed: cannot copy to /afile: it is not a directory",
		"FROM base\nCOPY http://x/y /\n":    "Dockerfile:2: COPY failed: source can't be a URL for COPY",
		"FROM base\nCOPY --from=zz f /\n":   "Dockerfile:2: invalid from flag value zz",
		"FROM base\nCOPY --chown=who f /\n": "Dockerfile:2: unable to convert uid/gid chown string to host mapping: can't find uid for user who: no such user: who",
		"FROM base\nCOPY --chmod=u+x f /\n": "Dockerfile:2: invalid --chmod value",
		"FROM base\nRUN false\n":            "The command '/bin/sh -c false' returned a non-zero code: 1",
		"FROM scratch\nRUN x\n":             "Dockerfile:2: RUN needs a base image",
		"FROM nosuch\n":                     "Dockerfile:1: unable to find image 'nosuch:latest' locally",
	} {
		files["Dockerfile"] = df
		out, _, err := tb.build(files, Options{})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %q\n%s", df, err, want, out)
		}
		tb.checkClean()
	}
}

// TestMultiStageAndOnBuild checks FROM a stage, COPY --from (name, index,
// image), --target, scratch, and ONBUILD triggers.
func TestMultiStageAndOnBuild(t *testing.T) {
	tb := newTestBuild(t)
	df := `FROM base AS one
RUN build
FROM scratch AS two
COPY --from=one /ran1 /from-one
COPY --from=0 /afile /from-index
COPY --from=base:latest /etc/group /from-image
FROM one
RUN again
`
	out, img := tb.mustBuild(map[string]string{"Dockerfile": df}, Options{Target: "two", Tags: []string{"two"}})
	if !strings.Contains(out, "Step 6/6 : COPY --from=base:latest") || strings.Contains(out, "again") {
		t.Errorf("--target two:\n%s", out)
	}
	f := tb.files(img, "/from-one", "/from-index", "/from-image", "/afile")
	if !strings.Contains(f["/from-one"], `cmd=["/bin/sh" "-c" "build"]`) || f["/from-index"] != "644 0:0 a file" ||
		!strings.HasPrefix(f["/from-image"], "644 0:0 root:x:0:") || f["/afile"] != "missing" {
		t.Errorf("stage two: %v", f)
	}
	if cfg := tb.config(img); len(cfg.RootFS.DiffIDs) != 3 || cfg.Config.Cmd != nil {
		t.Errorf("scratch stage: %d layers, Cmd %q", len(cfg.RootFS.DiffIDs), cfg.Config.Cmd)
	}
	out, img = tb.mustBuild(map[string]string{"Dockerfile": df}, Options{})
	if cached(out) != 4 || !strings.Contains(out, "Step 7/8 : FROM one\n ---> ") {
		t.Errorf("all stages:\n%s", out)
	}
	if f := tb.files(img, "/ran1", "/ran2"); f["/ran1"] == "missing" || f["/ran2"] == "missing" {
		t.Errorf("stage three: %v", f)
	}

	// ONBUILD: stored, run at FROM (before the build's own steps), cleared.
	_, parent := tb.mustBuild(map[string]string{"Dockerfile": "FROM base\nONBUILD COPY f /trig\nONBUILD RUN trig\n"}, Options{Tags: []string{"parent"}})
	if ob := tb.config(parent).Config.OnBuild; !reflect.DeepEqual(ob, []string{"COPY f /trig", "RUN trig"}) {
		t.Errorf("OnBuild = %q", ob)
	}
	out, child := tb.mustBuild(map[string]string{"Dockerfile": "FROM parent\nRUN child\n", "f": "f\n"}, Options{})
	if !strings.Contains(out, "# Executing 2 build triggers\n") || strings.Index(out, "ran: trig") > strings.Index(out, "ran: child") {
		t.Errorf("triggers:\n%s", out)
	}
	if cfg := tb.config(child); cfg.Config.OnBuild != nil {
		t.Errorf("child OnBuild = %q", cfg.Config.OnBuild)
	}
	if f := tb.files(child, "/trig"); f["/trig"] != "644 0:0 f" {
		t.Errorf("trigger COPY: %v", f)
	}
}

func TestDisplayName(t *testing.T) {
	for in, want := range map[string]string{"Dockerfile": "Dockerfile", "sub/Dockerfile.dev": "sub/Dockerfile.dev", ".dockerfile.1a2b": "Dockerfile", "./x//y": "x/y"} {
		if got := displayName(in); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}
