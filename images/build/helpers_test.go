package build

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ctrd/ctrd/images"
	"github.com/ctrd/ctrd/images/content"
	"github.com/ctrd/ctrd/images/snapshot"
	bolt "go.etcd.io/bbolt"
)

// newStore opens an image store in a temporary directory (root only: the
// snapshotter mounts overlays).
func newStore(t *testing.T) *images.Store {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (overlay mounts)")
	}
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "metadata.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cs, err := content.Open(filepath.Join(dir, "content"))
	if err != nil {
		t.Fatal(err)
	}
	sn, err := snapshot.NewOverlay(filepath.Join(dir, "snapshots"), db)
	if err != nil {
		t.Fatal(err)
	}
	st, err := images.New(db, cs, sn)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tarFile is one entry of a test tar.
type tarFile struct {
	name, body, link string
	mode             int64
	uid              int
	typ              byte
}

func makeTar(t *testing.T, files ...tarFile) []byte {
	t.Helper()
	b, err := tarBytes(files...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tarBytes(files ...tarFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Linkname: f.link, Mode: f.mode, Uid: f.uid, Gid: f.uid, Typeflag: f.typ,
			Size: int64(len(f.body)), ModTime: time.Unix(1700000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Size > 0 {
			io.WriteString(tw, f.body)
		}
	}
	err := tw.Close()
	return buf.Bytes(), err
}

// importBase imports a small root file system as base:latest.
func importBase(t *testing.T, st *images.Store) {
	t.Helper()
	rootfs := makeTar(t,
		tarFile{name: "bin/", typ: tar.TypeDir},
		tarFile{name: "etc/", typ: tar.TypeDir},
		tarFile{name: "etc/passwd", body: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"},
		tarFile{name: "etc/group", body: "root:x:0:\nstaff:x:50:\napp:x:1000:\n"},
		tarFile{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		tarFile{name: "home/", typ: tar.TypeDir},
		tarFile{name: "home/app/", typ: tar.TypeDir, uid: 1000},
		tarFile{name: "target/", typ: tar.TypeDir, mode: 0o700},
		tarFile{name: "lnk", typ: tar.TypeSymlink, link: "target"},
		tarFile{name: "afile", body: "a file\n"},
	)
	if _, err := st.Import(context.Background(), bytes.NewReader(rootfs), images.ImportOptions{Ref: "base:latest", Changes: []string{`CMD ["/bin/sh"]`}}); err != nil {
		t.Fatal(err)
	}
}

// fakeBackend "runs" a RUN step by writing a file /ran<N> holding the
// request; a script containing "false" fails with exit code 1.
type fakeBackend struct {
	st   *images.Store
	mu   sync.Mutex
	runs []RunRequest
}

func (f *fakeBackend) Run(ctx context.Context, req RunRequest) (images.PendingLayer, error) {
	f.mu.Lock()
	f.runs = append(f.runs, req)
	n := len(f.runs)
	f.mu.Unlock()
	if req.Started != nil {
		req.Started(fmt.Sprintf("%064x", n))
	}
	script := req.Cmd[len(req.Cmd)-1]
	if strings.Contains(script, "false") {
		return images.PendingLayer{}, &ExitError{Code: 1}
	}
	fmt.Fprintf(req.Stdout, "ran: %s\n", script)
	body := fmt.Sprintf("cmd=%q env=%q user=%s wd=%s\n", req.Cmd, req.Env, req.User, req.WorkingDir)
	layer, err := tarBytes(tarFile{name: fmt.Sprintf("ran%d", n), body: body})
	if err != nil {
		return images.PendingLayer{}, err
	}
	return f.st.WriteLayer(ctx, req.ParentChain, bytes.NewReader(layer))
}

func ownerOf(fi os.FileInfo) (int, int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

// testBuild is a builder on a store with a base image.
type testBuild struct {
	t  *testing.T
	st *images.Store
	fb *fakeBackend
	b  *Builder
}

func newTestBuild(t *testing.T) *testBuild {
	st := newStore(t)
	importBase(t, st)
	fb := &fakeBackend{st: st}
	return &testBuild{t: t, st: st, fb: fb, b: &Builder{Store: st, Backend: fb, Root: filepath.Join(t.TempDir(), "builder")}}
}

// ctxTar makes a context archive of files (name -> content; a name ending
// in "/" is a directory).
func ctxTar(t *testing.T, files map[string]string) []byte {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var fs []tarFile
	for _, n := range names {
		if strings.HasSuffix(n, "/") {
			fs = append(fs, tarFile{name: n, typ: tar.TypeDir})
		} else {
			fs = append(fs, tarFile{name: n, body: files[n]})
		}
	}
	return makeTar(t, fs...)
}

// build runs a build and returns its output and result.
func (tb *testBuild) build(files map[string]string, o Options) (string, images.Image, error) {
	var out bytes.Buffer
	o.Context = bytes.NewReader(ctxTar(tb.t, files))
	o.Out = &out
	img, err := tb.b.Build(context.Background(), o)
	return out.String(), img, err
}

func (tb *testBuild) mustBuild(files map[string]string, o Options) (string, images.Image) {
	tb.t.Helper()
	out, img, err := tb.build(files, o)
	if err != nil {
		tb.t.Fatalf("build: %v\n%s", err, out)
	}
	tb.checkClean()
	return out, img
}

// checkClean fails if a build left scratch directories or snapshots.
func (tb *testBuild) checkClean() {
	tb.t.Helper()
	if es, _ := os.ReadDir(tb.b.Root); len(es) > 0 {
		tb.t.Errorf("scratch left behind: %v", es)
	}
	_ = tb.st.Snapshotter().Walk(func(i snapshot.Info) error {
		if i.Kind != snapshot.KindCommitted {
			tb.t.Errorf("snapshot left behind: %+v", i)
		}
		return nil
	})
}

// config returns an image's config.
func (tb *testBuild) config(img images.Image) *images.ImageConfig {
	tb.t.Helper()
	c, err := tb.st.Config(img)
	if err != nil {
		tb.t.Fatal(err)
	}
	return c
}

// files mounts an image and describes paths in it ("mode uid:gid content"
// or "-> target" or "missing").
func (tb *testBuild) files(img images.Image, paths ...string) map[string]string {
	tb.t.Helper()
	cfg := tb.config(img)
	bd := &build{Builder: tb.b, dir: tb.t.TempDir()}
	m, err := bd.mountImage(cfg)
	if err != nil {
		tb.t.Fatal(err)
	}
	defer bd.releaseMounts()
	out := map[string]string{}
	for _, p := range paths {
		host := filepath.Join(m.Root, p)
		fi, err := os.Lstat(host)
		if err != nil {
			out[p] = "missing"
			continue
		}
		uid, gid := ownerOf(fi)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(host)
			out[p] = "-> " + l
		case fi.IsDir():
			out[p] = fmt.Sprintf("%o %d:%d dir", modeBits(fi)&0o7777, uid, gid)
		default:
			b, _ := os.ReadFile(host)
			out[p] = fmt.Sprintf("%o %d:%d %s", modeBits(fi)&0o7777, uid, gid, strings.TrimSuffix(string(b), "\n"))
		}
	}
	return out
}

var cacheRe = regexp.MustCompile(`(?m)^ ---> Using cache$`)

func cached(out string) int { return len(cacheRe.FindAllString(out, -1)) }
